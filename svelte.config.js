/** Svelte compiler options shared by Vite, svelte-check and eslint-plugin-svelte. */
export default {
  compilerOptions: {
    // Runes everywhere: no legacy reactive statements anywhere in the app.
    runes: true,
  },
};
