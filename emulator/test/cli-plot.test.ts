import t from 'tap';
import { XMLParser } from 'fast-xml-parser';
import { lineChartSvg, tickStep } from '../src/plot.js';

t.test('tick spacing is 1, 2 or 5 times a power of ten', async (t) => {
  t.equal(tickStep(10, 10), 1);
  t.equal(tickStep(11, 10), 2);
  t.equal(tickStep(35, 10), 5);
  t.equal(tickStep(100, 10), 10);
  t.equal(tickStep(0.3, 10), 0.05);
});

t.test('the chart is well-formed SVG with a title, labelled axes, ticks and one path per series', async (t) => {
  const svg = lineChartSvg({
    title: 'Battery <life> & more',
    xLabel: 'years',
    yLabel: 'battery %',
    series: [
      {
        label: 'firmware estimate',
        color: '#c33',
        points: [
          [0, 100],
          [4.2, 55],
          [8.6, 0],
        ],
      },
      {
        label: 'true charge',
        color: '#36c',
        dashed: true,
        points: [
          [0, 100],
          [8.6, 4],
        ],
      },
    ],
  });
  const doc = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '' }).parse(svg, true) as {
    svg: {
      xmlns: string;
      text: Array<{ class: string; '#text': string | number }>;
      path: Array<{ d: string; 'data-label': string; 'stroke-dasharray'?: string }>;
      g: Array<{ class: string; text: Array<{ class: string; '#text': string | number }> }>;
    };
  };
  t.equal(doc.svg.xmlns, 'http://www.w3.org/2000/svg');
  const title = doc.svg.text.find((x) => x.class === 'title');
  t.equal(title?.['#text'], 'Battery <life> & more', 'markup in the title is escaped and reads back');
  const xAxis = doc.svg.g.find((g) => g.class === 'x-axis');
  const yAxis = doc.svg.g.find((g) => g.class === 'y-axis');
  t.same(
    xAxis?.text.filter((x) => x.class === 'label').map((x) => x['#text']),
    ['years'],
  );
  t.same(
    yAxis?.text.filter((x) => x.class === 'label').map((x) => x['#text']),
    ['battery %'],
  );
  t.same(
    xAxis?.text.filter((x) => x.class === 'tick').map((x) => Number(x['#text'])),
    [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
  );
  t.same(
    yAxis?.text.filter((x) => x.class === 'tick').map((x) => Number(x['#text'])),
    [0, 10, 20, 30, 40, 50, 60, 70, 80, 90, 100],
  );
  t.same(
    doc.svg.path.map((p) => p['data-label']),
    ['firmware estimate', 'true charge'],
  );
  const [est, truth] = doc.svg.path;
  t.match(est?.d, /^M70 48 L\S+ \S+ L\S+ 384$/, 'starts top-left at 100 %, ends on the x axis at 0 %');
  t.equal(truth?.d.split(' L').length, 2);
  t.equal(truth?.['stroke-dasharray'], '6 4');
});

t.test('an empty chart still has a valid x range', async (t) => {
  const svg = lineChartSvg({ title: 't', xLabel: 'x', yLabel: 'y', series: [], xMax: 0 });
  t.match(svg, /class="tick"[^>]*>1</);
  const small = lineChartSvg({
    title: 't',
    xLabel: 'x',
    yLabel: 'y',
    series: [
      {
        label: 's',
        color: 'red',
        points: [
          [0, 1],
          [0.3, 2],
        ],
      },
    ],
  });
  const ticks = [...small.matchAll(/class="tick"[^>]*text-anchor="middle">([^<]*)</g)].map((m) => m[1]);
  t.same(ticks, ['0', '0.05', '0.1', '0.15', '0.2', '0.25', '0.3'], 'tick labels carry no floating-point noise');
});
