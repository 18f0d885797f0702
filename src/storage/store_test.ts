import { testObjectStore } from "./_conformance.ts";
import { FileStore } from "./file.ts";
import { MemoryStore } from "./memory.ts";

let memoryCount = 0;
testObjectStore("MemoryStore", () => {
  const store = new MemoryStore({ root: `memory://conformance-${++memoryCount}/` });
  return Promise.resolve({ store, base: `${store.root}t/`, dispose: () => store.close() });
});

testObjectStore("FileStore", async () => {
  const dir = await Deno.makeTempDir({ prefix: "lakehouse-filestore-" });
  const store = new FileStore(`file://${dir}`);
  return {
    store,
    base: `${store.root}t/`,
    dispose: async () => {
      await store.close();
      await Deno.remove(dir, { recursive: true });
    },
  };
});
