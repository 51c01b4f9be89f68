export * from './types.js';
export * from './expr.js';
export * from './partition.js';
export * from './instance.js';
export * from './rows.js';
export * from './tiles.js';
export * from './table.js';
export * from './schema.js';
