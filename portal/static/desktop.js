// The agent desktop: the state timer, the disposition's fields for the chosen result,
// and the dialer's events (a screen pop opens the debtor on the desktop).
(function () {
  "use strict";
  const bar = document.getElementById("situacao-operador");
  if (bar) {
    const since = Date.parse(bar.dataset.since);
    const clock = document.getElementById("cronometro");
    const left = document.getElementById("pos-restante");
    const wrap = Number(bar.dataset.wrap);
    const tick = function () {
      const s = Math.max(0, Math.floor((Date.now() - since) / 1000));
      clock.textContent = Math.floor(s / 60) + ":" + String(s % 60).padStart(2, "0");
      if (left) left.textContent = String(Math.max(0, wrap - s));
    };
    tick();
    setInterval(tick, 1000);
  }
  const choice = document.getElementById("disposition");
  if (choice) {
    const show = function () {
      document.querySelectorAll("[data-for]").forEach(function (el) {
        el.hidden = el.dataset.for !== choice.value;
      });
    };
    choice.addEventListener("change", show);
    show();
  }
  if (window.EventSource) {
    const source = new EventSource("/atendimento/eventos");
    source.addEventListener("screen_pop", function (e) {
      const pop = JSON.parse(e.data);
      window.location.assign("/atendimento?devedor=" + pop.debtor_id + "&ligacao=" + pop.call_id);
    });
    source.addEventListener("agent_state", function () {
      // A call still ringing shows how it ended (busy, no answer...) once it does.
      const calling = document.querySelector("#situacao-ligacao[data-calling]");
      if (calling || !document.getElementById("resultado")) window.location.reload();
    });
  }
})();
