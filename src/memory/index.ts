/** `sms-fes/memory`: the reference storage adapter, as strict as PostgreSQL. */
export { createMemoryStorage, type MemoryStorage, type MemoryStorageOptions } from "./storage.js";
