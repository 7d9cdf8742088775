// lossbook (_ext/lossbook_site.py): search summaries from the article text only.
// Sphinx 7.4 builds each result's snippet from the page's [role="main"], which in
// sphinx-book-theme starts with the header buttons (".pdf", "Contents"); drop the page
// chrome before the snippet is taken.
(() => {
  const patch = () => {
    if (typeof Search === "undefined" || !Search.htmlToText || Search.htmlToText.lossbook) return;
    const original = Search.htmlToText;
    const chrome = ".bd-header-article, .header-article-items, .bd-sidebar-secondary, " +
      ".prev-next-area, .bd-footer-article, .bd-footer-content, .bd-toc";
    const patched = (htmlString, anchor) => {
      const doc = new DOMParser().parseFromString(htmlString, "text/html");
      doc.querySelectorAll(chrome).forEach((el) => el.remove());
      return original(doc.documentElement.outerHTML, anchor);
    };
    patched.lossbook = true;
    Search.htmlToText = patched;
  };
  patch();
  document.addEventListener("DOMContentLoaded", patch);
})();
