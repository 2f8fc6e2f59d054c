// The service tests again, over a store that reads and then writes in two steps (no
// decideAndApply, like the PostgreSQL store): both ways of validating must decide alike.
process.env.KODEVISER_TEST_TWO_STEP = '1';
await import('./domain-service.test.js');
