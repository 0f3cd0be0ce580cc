import { createMemoryStorage } from "../../src/memory/index.js";
import { describeSagaRegressions } from "./saga-scenarios.js";

describeSagaRegressions("memory", async () => createMemoryStorage());
