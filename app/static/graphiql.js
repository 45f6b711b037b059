// GraphiQL on /graphql for a signed-in browser (vendored: static/vendor/graphiql). A file, not an
// inline script, so that the app's Content-Security-Policy (script-src 'self') holds. The session's
// CSRF token goes with every request, as every state-changing request of a session sends it.
(function () {
  const csrf = document.querySelector('meta[name="csrf-token"]');
  const headers = csrf ? { "X-CSRF-Token": csrf.content } : {};
  const url = window.location.origin + "/graphql";
  const fetcher = GraphiQL.createFetcher({
    url: url,
    headers: headers,
    subscriptionUrl: url.replace(/^http/, "ws"),
  });
  const root = ReactDOM.createRoot(document.getElementById("graphiql"));
  const query = new URLSearchParams(window.location.search).get("q") || undefined;  // a shared link (?query= runs it)
  root.render(React.createElement(GraphiQL, { fetcher: fetcher, defaultQuery: query, query: query,
                                              defaultEditorToolsVisibility: true }));
})();
