import { createMemoryAdapterFactory } from '../../../src/store/memory-adapter.js';
import { adapterSuite } from '../../helpers/adapter-suite.js';

adapterSuite('memory adapter', async () => ({
  factory: createMemoryAdapterFactory(),
  cleanup: async () => {},
}));
