/**
 * The Worker: src/mirror.js with its settings read from the Worker's bindings ([vars] in
 * wrangler.toml): UPSTREAM_INDEX, UPSTREAM_FILES, UPSTREAM_PYODIDE, UPSTREAM_TIMEOUT_MS,
 * CACHE_MAX_FILE_BYTES, MAX_PAGE_BYTES, MAX_UPSTREAM_ATTEMPTS.
 */
import { handleRequest, settings } from "./mirror.js";

export default {
  async fetch(request, env, ctx) {
    return handleRequest(request, settings(env || {}), ctx);
  },
};
