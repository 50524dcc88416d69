// The whole bad-input table (the CI suite runs the same table).
import test from 'ava';
import { registerTable } from './bad-input/table.js';

registerTable(test, 3);
