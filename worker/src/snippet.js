/**
 * The Snippet: src/mirror.js with its settings fixed at build time (Snippets have no bindings).
 * build-snippet.mjs replaces SNIPPET_SETTINGS with the values given to it. Defaults fit the
 * Snippet limits: no Cache API tee (answers are cached at the fetch layer, so no file is held
 * in the 2 MB of memory), at most 2 upstream requests per request, pages parsed only up to
 * 128 KiB (bigger ones are answered 502, so the client moves on to its next mirror).
 */
import { handleRequest, settings } from "./mirror.js";

/* global SNIPPET_SETTINGS */
const SNIPPET_DEFAULTS = {
  CACHE_API: "false",
  MAX_UPSTREAM_ATTEMPTS: 2,
  MAX_PAGE_BYTES: 128 * 1024,
};
const cfg = settings(typeof SNIPPET_SETTINGS === "object" ? SNIPPET_SETTINGS : {}, SNIPPET_DEFAULTS);

export default {
  async fetch(request) {
    return handleRequest(request, cfg);
  },
};
