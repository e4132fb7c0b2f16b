export { modelFileName as modelFileFor } from '../core/formats/registry.ts';
