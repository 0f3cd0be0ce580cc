import { createMemoryStorage } from "../../src/memory/index.js";
import { describeStorageConformance } from "../../src/testing/index.js";

describeStorageConformance({
  name: "memory",
  createStorage: () => createMemoryStorage(),
  runs: Number(process.env.FES_PROPERTY_RUNS ?? 3000),
});
