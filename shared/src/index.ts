export { TesseraError } from './errors.js';
