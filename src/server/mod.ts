/**
 * The HTTP server: the Iceberg REST catalog over the lakehouse's catalog
 * and object store. The only user of Deno.serve.
 */
export * from "./server.ts";
export { ENDPOINTS, RestCatalog, type RestCatalogOptions } from "./rest_catalog.ts";
