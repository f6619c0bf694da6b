// Portfolio upload: presigned PUT straight to S3, column mapping with a preview,
// then the import's progress polled until it finishes.
(function () {
  "use strict";
  const $ = (id) => document.getElementById(id);
  const csrf = () => (document.cookie.match(/(?:^|; )regua_api_csrf=([^;]+)/) || [])[1] || "";
  let portfolio = null;
  let preview = null;

  async function api(method, url, body) {
    const res = await fetch(url, {
      method,
      headers: { "content-type": "application/json", "x-csrftoken": decodeURIComponent(csrf()) },
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: "same-origin",
    });
    const data = res.status === 204 ? null : await res.json().catch(() => null);
    if (!res.ok) {
      const detail = data && (data.errors ? Object.values(data.errors).join("; ") : data.detail);
      throw new Error(detail || `erro ${res.status}`);
    }
    return data;
  }

  function showError(id, message) {
    const el = $(id);
    el.textContent = message;
    el.hidden = !message;
  }

  function setProgress(el, fraction, label, failed = false) {
    el.hidden = false;
    const width = `${Math.round(Math.min(1, fraction) * 100)}%`;
    el.classList.toggle("failed", failed);
    el.querySelector(".bar").style.width = width;
    el.style.setProperty("--p", width);
    for (const span of el.querySelectorAll(".label")) span.textContent = label;
  }

  const fmt = new Intl.NumberFormat("pt-BR");
  const lines = (n) => `${fmt.format(n)} ${n === 1 ? "linha" : "linhas"}`;
  const brl = new Intl.NumberFormat("pt-BR", { style: "currency", currency: "BRL" });
  const size = (bytes) => bytes < 1024 ? `${bytes} bytes`
    : bytes < 1048576 ? `${fmt.format(Math.round(bytes / 1024))} KB`
      : `${fmt.format(Math.round(bytes / 104857.6) / 10)} MB`;

  async function loadLayouts() {
    const tenant = $("tenant").value;
    if (!tenant) return;
    const select = $("layout");
    select.length = 1;
    try {
      for (const layout of await api("GET", `/api/v1/layouts?tenant_id=${tenant}`)) {
        select.add(new Option(layout.name, layout.name));
      }
    } catch (e) { /* no layouts: header recognition is the default */ }
  }

  function putFile(url, headers, file) {
    return new Promise((resolve, reject) => {
      const xhr = new XMLHttpRequest();
      xhr.open("PUT", url);
      // Signed into the URL: the upload is refused without them.
      for (const [name, value] of Object.entries(headers || {})) xhr.setRequestHeader(name, value);
      xhr.upload.onprogress = (e) => {
        if (e.lengthComputable) {
          setProgress($("upload-progress"), e.loaded / e.total,
            `Enviando ${file.name}: ${fmt.format(Math.round(e.loaded / 1024))} de ${fmt.format(Math.round(e.total / 1024))} KB`);
        }
      };
      xhr.onload = () => (xhr.status < 300 ? resolve() : reject(new Error(`envio recusado (${xhr.status})`)));
      xhr.onerror = () => reject(new Error("falha de rede no envio do arquivo"));
      xhr.send(file);
    });
  }

  async function upload(file) {
    showError("upload-error", "");
    $("upload-progress").hidden = true;
    if (file.size === 0) {
      // Nothing to send: say so at once instead of uploading an empty file.
      showError("upload-error", `${file.name} está vazio (0 bytes): não há nada a importar. Escolha outro arquivo.`);
      return;
    }
    let sent = false;
    try {
      portfolio = await api("POST", "/api/v1/portfolios", {
        file_name: file.name, file_size: file.size, mode: $("mode").value, tenant_id: $("tenant").value || null,
        layout: $("layout").value || null,
      });
      await putFile(portfolio.upload_url, portfolio.upload_headers, file);
      sent = true;
      setProgress($("upload-progress"), 1, `${file.name} enviado (${size(file.size)}). Conferindo o arquivo…`);
      // Checked before any column matching: empty or unreadable, or imported before.
      portfolio = await api("POST", `/api/v1/portfolios/${portfolio.id}/received`);
      if (portfolio.status === "duplicate") return showDuplicate(file);
      preview = await api("POST", `/api/v1/portfolios/${portfolio.id}/preview`, {});
      setProgress($("upload-progress"), 1, `${file.name} enviado (${size(file.size)}). Confira as colunas abaixo.`);
      renderMapping();
    } catch (e) {
      setProgress($("upload-progress"), 1, sent ? `${file.name}: arquivo recusado` : `${file.name}: envio não concluído`, true);
      showError("upload-error", e.message);
      if (sent) refreshHistory();  // the refused upload is listed apart
    }
  }

  async function showDuplicate(file) {
    let when = "";
    try {
      const earlier = await api("GET", `/api/v1/portfolios/${portfolio.duplicate_of}`);
      when = ` em ${new Date(earlier.created_at).toLocaleString("pt-BR", { dateStyle: "short", timeStyle: "short", timeZone: "America/Sao_Paulo" })}`;
    } catch (e) { /* the link below still leads to it */ }
    setProgress($("upload-progress"), 1, `${file.name}: arquivo já importado`);
    const box = $("upload-duplicate");
    box.innerHTML = `Este mesmo arquivo já foi importado para este credor${escapeHtml(when)}; nada foi alterado. `
      + `<a href="#p-${portfolio.duplicate_of}" id="duplicate-link">Ver a importação anterior</a>`;
    box.hidden = false;
    refreshHistory();
  }

  function renderMapping() {
    const f = preview.format;
    $("format-info").textContent = f.kind !== "csv"
      ? `Planilha ${f.kind.toUpperCase()}, aba “${f.sheet}”, ${preview.headers.length} colunas.`
      : `CSV em ${f.encoding}, separador “${f.delimiter === "\t" ? "tab" : f.delimiter}”, ${preview.headers.length} colunas.`;
    if (f.header_row > 1) {
      $("format-info").textContent += ` Cabeçalho na linha ${f.header_row}: as linhas acima dele (título, datas) não são importadas.`;
    }
    const body = $("mapping-rows");
    body.innerHTML = "";
    for (const field of preview.fields) {
      const chosen = [].concat(preview.mapping[field.name] || []);
      const box = document.createElement(field.multiple ? "fieldset" : "label");
      box.className = "mapping-field" + (field.multiple ? " multiple" : "");
      box.dataset.field = field.name;
      const title = document.createElement(field.multiple ? "legend" : "span");
      title.textContent = field.label;
      if (field.required) title.insertAdjacentHTML("beforeend", ' <span class="req">obrigatório</span>');
      if (field.multiple) {
        title.insertAdjacentHTML("beforeend", ' <span class="muted small">(marque todas as colunas)</span>');
        box.append(title);
        // A checkbox per column: phones often come in several columns.
        preview.headers.forEach((header) => {
          const option = document.createElement("label");
          option.className = "check";
          const input = document.createElement("input");
          input.type = "checkbox";
          input.value = header;
          input.checked = chosen.includes(header);
          option.append(input, document.createTextNode(header));
          box.append(option);
        });
      } else {
        const select = document.createElement("select");
        select.add(new Option("— não importar —", ""));
        for (const header of preview.headers) {
          const opt = new Option(header, header);
          opt.selected = chosen.includes(header);
          select.add(opt);
        }
        box.append(title, select);
      }
      body.appendChild(box);
    }
    body.onchange = renderPreview;
    renderPreview();
    $("mapping-card").hidden = false;
    $("mapping-card").scrollIntoView({ behavior: "smooth" });
  }

  // The first rows under the file's own headers, each column labelled with the field it
  // feeds, so a wrong choice shows before the import starts.
  function renderPreview() {
    const mapping = currentMapping();
    const labels = Object.fromEntries(preview.fields.map((f) => [f.name, f.label]));
    const target = {};
    for (const [field, columns] of Object.entries(mapping)) {
      for (const column of [].concat(columns)) (target[column] = target[column] || []).push(labels[field]);
    }
    // A DDD kept in a column of its own goes in front of the phone beside it.
    for (const [phone, ddd] of Object.entries(preview.area_codes || {})) {
      if (target[phone] && !target[ddd]) target[ddd] = [`DDD de “${phone}”`];
    }
    const table = $("preview");
    table.innerHTML = "";
    const head = table.createTHead();
    const names = head.insertRow();
    const fields = head.insertRow();
    fields.className = "target";
    for (const h of preview.headers) {
      names.insertCell().outerHTML = `<th>${escapeHtml(h)}</th>`;
      const cell = fields.insertCell();
      cell.outerHTML = target[h]
        ? `<th class="mapped">→ ${escapeHtml(target[h].join(", "))}</th>`
        : `<th class="extra">campo extra</th>`;
    }
    const tbody = table.createTBody();
    for (const row of preview.rows) {
      const tr = tbody.insertRow();
      row.forEach((value, i) => {
        const td = tr.insertCell();
        td.textContent = value;
        if (!target[preview.headers[i]]) td.className = "extra";
      });
    }
    const missing = preview.fields.filter((f) => f.required && !mapping[f.name]);
    for (const box of document.querySelectorAll("#mapping-rows .mapping-field")) {
      box.classList.toggle("invalid", missing.some((f) => f.name === box.dataset.field));
    }
    showError("mapping-error", missing.length
      ? `Colunas obrigatórias não reconhecidas: ${missing.map((f) => f.label).join(", ")}. Escolha-as abaixo.` : "");
    $("start").disabled = missing.length > 0;
  }

  function escapeHtml(s) {
    return String(s).replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c]);
  }

  function currentMapping() {
    const mapping = {};
    for (const box of document.querySelectorAll("#mapping-rows .mapping-field")) {
      if (box.classList.contains("multiple")) {
        const values = [...box.querySelectorAll("input:checked")].map((i) => i.value);
        if (values.length) mapping[box.dataset.field] = values;
      } else if (box.querySelector("select").value) {
        mapping[box.dataset.field] = box.querySelector("select").value;
      }
    }
    return mapping;
  }

  async function start() {
    showError("mapping-error", "");
    const mapping = currentMapping();
    try {
      const name = $("layout-name").value.trim();
      if (name) {
        await api("PUT", "/api/v1/layouts", {
          name, mapping, mode: $("mode").value, tenant_id: $("tenant").value || null,
        });
      }
      await api("POST", `/api/v1/portfolios/${portfolio.id}/start`, { mapping });
    } catch (e) {
      showError("mapping-error", e.message);
      return;
    }
    $("mapping-card").hidden = true;
    $("upload-card").hidden = true;
    $("progress-card").hidden = false;
    poll();
  }

  const PHASES = {
    queued: "Na fila de processamento", download: "Baixando o arquivo", reading: "Lendo, validando e gravando linhas",
    writing: "Concluindo a gravação", reports: "Gerando relatórios", done: "Concluída",
  };

  async function poll() {
    let p;
    try {
      p = await api("GET", `/api/v1/portfolios/${portfolio.id}`);
    } catch (e) {
      $("progress-phase").textContent = `Sem resposta do servidor (${e.message}); tentando de novo…`;
      return setTimeout(poll, 2000);
    }
    const fraction = p.bytes_total ? p.bytes_read / p.bytes_total : 0;
    const rows = `${fmt.format(p.rows_total)} linhas lidas`;
    setProgress($("import-progress"), p.status === "done" ? 1 : fraction,
      p.status === "done" ? rows : `${Math.round(fraction * 100)}% · ${rows}`, p.status === "failed");
    $("progress-phase").textContent = PHASES[p.phase] || p.phase || "";
    if (["done", "failed", "duplicate"].includes(p.status)) return finish(p);
    setTimeout(poll, 800);
  }

  function finish(p) {
    const title = $("progress-title");
    if (p.status === "failed") {
      title.textContent = "Importação recusada";
      $("progress-phase").innerHTML = "";
      showFailure(p.error);
      return;
    }
    if (p.status === "duplicate") {
      // Nothing was imported: no counters (all zero), just the way to the earlier import.
      title.textContent = "Arquivo já importado";
      $("import-progress").hidden = true;
      $("progress-phase").innerHTML = "Este mesmo arquivo já foi importado para este credor; nada foi alterado. "
        + `<a href="#p-${p.duplicate_of}">Ver a importação anterior</a>`;
      $("result").hidden = false;
      $("stats").innerHTML = "";
      $("report-links").innerHTML = "";
      refreshHistory();
      return;
    } else {
      title.textContent = "Importação concluída";
    }
    // The counters and their labels come from the server (tenants/intake/counters.py).
    const counters = JSON.parse($("stats").dataset.counters);
    $("stats").innerHTML = counters.map((c) => {
      const v = p[c.name];
      const cls = c.money ? " wide" : c.name === "rows_rejected" && v ? " bad" : "";
      const shown = c.money ? brl.format(Number(v)) : fmt.format(v);
      return `<div class="stat${cls}"><span>${c.label}</span><strong>${shown}</strong></div>`;
    }).join("");
    const links = [];
    if (p.status === "done") links.push(`<a class="button" href="/api/v1/portfolios/${p.id}/reports/acknowledgement">Baixar recibo da colocação</a>`);
    if (p.has_error_report) links.push(`<a class="button" href="/api/v1/portfolios/${p.id}/reports/errors">Baixar relatório de erros (${lines(p.rows_rejected)})</a>`);
    if (p.has_warning_report) links.push(`<a class="button" href="/api/v1/portfolios/${p.id}/reports/warnings">Baixar avisos (${lines(p.rows_with_warnings)})</a>`);
    $("report-links").innerHTML = links.join(" ");
    $("result").hidden = false;
    refreshHistory();
  }

  async function refreshHistory() {
    // The history table is server-rendered: take the fresh one from the page itself.
    const res = await fetch(location.pathname, { credentials: "same-origin" });
    if (!res.ok) return;
    const doc = new DOMParser().parseFromString(await res.text(), "text/html");
    const fresh = doc.getElementById("history");
    if (fresh) $("history").replaceWith(fresh);
  }

  function showFailure(message) {
    $("stats").innerHTML = "";
    $("report-links").innerHTML = `<div class="alert error">${escapeHtml(message || "erro desconhecido")}</div>`;
    $("result").hidden = false;
  }

  const drop = $("dropzone");
  const input = $("file");
  drop.addEventListener("click", () => input.click());
  drop.addEventListener("keydown", (e) => { if (e.key === "Enter" || e.key === " ") input.click(); });
  drop.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("over"); });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (e) => {
    e.preventDefault();
    drop.classList.remove("over");
    if (e.dataTransfer.files.length) upload(e.dataTransfer.files[0]);
  });
  input.addEventListener("change", () => { if (input.files.length) upload(input.files[0]); });
  $("start").addEventListener("click", start);
  if ($("tenant").tagName === "SELECT") $("tenant").addEventListener("change", loadLayouts);
  loadLayouts();
})();
