export * from './errors.js';
export * from './bytes.js';
