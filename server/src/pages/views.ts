/** Where the pages' templates are (server/views): the pages' plugin and the OpenID provider's pages render them. */
export const VIEWS_DIR = new URL('../../views/', import.meta.url).pathname;
