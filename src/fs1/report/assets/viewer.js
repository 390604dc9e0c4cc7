// Trace viewer: filters by run, source, verdict and free text; filters can also come from the URL hash
// (e.g. report.html#run=m__fs1&verdict=correct&q=Paris), so a view can be shared and tested.
(function () {
  const data = JSON.parse(document.getElementById("trace-data").textContent);
  const body = document.querySelector("#viewer-table tbody");
  const count = document.getElementById("viewer-count");
  const controls = {
    run: document.getElementById("f-run"),
    source: document.getElementById("f-source"),
    verdict: document.getElementById("f-verdict"),
    q: document.getElementById("f-text"),
  };
  const LIMIT = 300;
  // Every value goes through esc(), whatever its type: the page never trusts a record to hold what it should.
  function esc(s) {
    return String(s == null ? "" : s).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));
  }
  function gold(t) {
    return Array.isArray(t.gold) ? t.gold.map(String).join(" | ") : String(t.gold == null ? "" : t.gold);
  }
  function matches(t, f) {
    if (f.run && t.run !== f.run) return false;
    if (f.source && t.source !== f.source) return false;
    if (f.verdict === "correct" && !t.correct) return false;
    if (f.verdict === "wrong" && (t.correct || t.excluded)) return false;
    if (f.q) {
      const hay = (t.question + " " + t.extracted + " " + gold(t) + " " + t.id).toLowerCase();
      if (!hay.includes(f.q.toLowerCase())) return false;
    }
    return true;
  }
  function render() {
    const f = { run: controls.run.value, source: controls.source.value, verdict: controls.verdict.value, q: controls.q.value };
    const rows = data.filter((t) => matches(t, f));
    count.textContent = rows.length + " of " + data.length + " predictions";
    count.dataset.shown = rows.length;
    body.innerHTML = rows.slice(0, LIMIT).map((t) =>
      `<tr class="${t.correct ? "correct" : "wrong"}" data-id="${esc(t.id)}" data-run="${esc(t.run)}" data-source="${esc(t.source)}">` +
      `<td>${esc(t.run)}</td><td>${esc(t.source)}</td><td>${esc(t.question)}<br><small>gold: ${esc(gold(t))}</small></td>` +
      `<td>${esc(t.extracted)}</td><td class="verdict">${t.excluded ? "excluded" : t.correct ? "correct" : "wrong"}</td>` +
      `<td><details><summary>sample ${esc(t.sample)}${t.budget != null ? ", budget " + esc(t.budget) : ""}, ${esc(t.waits)} Wait</summary>` +
      (t.kg_path ? `<b>KG path</b><pre>${esc(t.kg_path)}</pre>` : "") + `<b>Trace</b><pre>${esc(t.text)}</pre></details></td></tr>`
    ).join("");
  }
  function fromHash() {
    const params = new URLSearchParams(location.hash.replace(/^#/, ""));
    for (const [k, el] of Object.entries(controls)) if (params.has(k)) el.value = params.get(k);
  }
  Object.values(controls).forEach((el) => el.addEventListener("input", render));
  window.addEventListener("hashchange", () => { fromHash(); render(); });
  fromHash();
  render();
})();
