// lossbook (_ext/lossbook_site.py): search summaries from the article text only; display
// equations fitted to narrow screens; the phone sidebars close when an entry is tapped.

// Sphinx 7.4 builds each result's snippet from the page's [role="main"], which in
// sphinx-book-theme starts with the header buttons (".pdf", "Contents") and the
// print-only title and contents list (#jb-print-docs-body): drop them before the snippet
// is taken.
(() => {
  const patch = () => {
    if (typeof Search === "undefined" || !Search.htmlToText || Search.htmlToText.lossbook) return;
    const original = Search.htmlToText;
    const chrome = ".bd-header-article, .header-article-items, .bd-sidebar-secondary, " +
      ".prev-next-area, .bd-footer-article, .bd-footer-content, .bd-toc, " +
      "#jb-print-docs-body, .onlyprint";
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

// Display equations wider than their box. MathJax 3 does not break lines, so an equation
// that is a little too wide is set smaller (down to MIN_SCALE of its size) to fit; one that
// still does not fit scrolls sideways in its own box (MathJax makes the box focusable,
// tabindex=0) and shows a shadow on the side with more to see (lossbook-site.css).
(() => {
  const MIN_SCALE = 0.75;
  const boxes = () =>
    document.querySelectorAll('.bd-article div.math > mjx-container[display="true"]');
  const shade = (box) => {
    const more = box.scrollWidth - box.clientWidth;
    box.classList.toggle("lossbook-scrolled", box.scrollLeft > 0);
    box.classList.toggle("lossbook-scroll-end", box.scrollLeft >= more - 1);
  };
  const fit = () => {
    for (const box of boxes()) {
      if (box.dataset.lossbookSize === undefined) {
        box.dataset.lossbookSize = box.style.fontSize || "100%";
        box.addEventListener("scroll", () => shade(box), { passive: true });
      }
      const size = parseFloat(box.dataset.lossbookSize);
      box.style.fontSize = `${size}%`;
      if (box.clientWidth === 0) continue;  // not displayed (a closed dropdown)
      if (box.scrollWidth > box.clientWidth + 1) {
        const scale = Math.max(MIN_SCALE, (box.clientWidth - 2) / box.scrollWidth);
        box.style.fontSize = `${(size * scale).toFixed(1)}%`;
      }
      const scrolls = box.scrollWidth > box.clientWidth + 1;
      box.classList.toggle("lossbook-scrolls", scrolls);
      if (scrolls) {
        box.tabIndex = 0;
        shade(box);
      }
    }
    // The width the equations were last fitted at (the browser test waits for it).
    document.documentElement.dataset.lossbookFitted = String(window.innerWidth);
  };
  let timer = null;
  const later = () => { clearTimeout(timer); timer = setTimeout(fit, 150); };
  const start = () => {
    const startup = window.MathJax && window.MathJax.startup && window.MathJax.startup.promise;
    if (startup) startup.then(fit); else fit();
    window.addEventListener("resize", later);
    window.addEventListener("beforeprint", fit);
  };
  if (document.readyState === "complete") start(); else window.addEventListener("load", start);
})();

// On a phone the sidebars open as <dialog>s; tapping an entry of "Contents" (a link within
// the page) moved the page but left the dialog over it. Close the dialog on any link.
document.addEventListener("click", (event) => {
  const link = event.target.closest && event.target.closest("dialog a[href]");
  const dialog = link && link.closest("dialog");
  if (dialog && dialog.open) dialog.close();
});
