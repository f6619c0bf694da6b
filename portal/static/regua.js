// Behaviour every page may ask for through data attributes: the content security policy
// runs no inline script or event handler, so pages declare what they need here.
(function () {
  "use strict";
  document.addEventListener("submit", (event) => {
    const form = event.target;
    if (form.matches("[data-no-submit]")) event.preventDefault();
    else if (form.dataset.confirm && !window.confirm(form.dataset.confirm)) event.preventDefault();
  });
  document.addEventListener("click", (event) => {
    const button = event.target.closest("[data-print], [data-reload]");
    if (!button) return;
    if (button.hasAttribute("data-print")) window.print();
    else window.location.reload();
  });
  document.addEventListener("change", (event) => {
    if (event.target.matches("select[data-autosubmit]")) event.target.form.submit();
  });
  const refresh = document.querySelector("[data-refresh-seconds]");
  if (refresh) {
    // Not while the person is filling in a form field: try again a period later.
    const wait = Number(refresh.dataset.refreshSeconds) * 1000;
    const reload = () => {
      const active = document.activeElement;
      if (active && active.closest("form") && active.matches("input, select, textarea")) {
        setTimeout(reload, wait);
      } else {
        window.location.reload();
      }
    };
    setTimeout(reload, wait);
  }
})();
