// The Files panel: the logged-in user's files, a folder at a time, shown
// a page at a time; new folder, rename and move (the frame protocol's
// file.mkdir and file.mv over the page's WebSocket), download and delete,
// one by one or for a selection. Uploads are uploads.js. Names only ever
// go into the page through textContent. Loaded first: it also defines $.
"use strict";

const $ = (id) => document.getElementById(id);

/** Rows rendered at once; "Show more" adds as many again. */
const FILES_PAGE = 200;

const files = {
  dir: "", // the folder shown, "" is the root
  info: null, // the last listing: entries, used, quota, max_file
  shown: FILES_PAGE, // rows rendered of the listing
  selected: new Set(), // names selected in this folder
  action: null, // what the inline form does on submit

  el: (id) => document.getElementById(id),

  open() {
    this.dir = "";
    this.refresh();
  },

  close() {
    uploads.reset();
    this.selected.clear();
    this.el("file-rows").replaceChildren();
    this.el("files-error").textContent = "";
  },

  url(path) {
    return "/api/files/" + path.split("/").map(encodeURIComponent).join("/");
  },

  join(name) {
    return this.dir ? `${this.dir}/${name}` : name;
  },

  error(text) {
    this.el("files-error").textContent = text;
  },

  /** Goes to folder `dir` (selection and paging start over). */
  go(dir) {
    this.dir = dir;
    this.selected.clear();
    this.shown = FILES_PAGE;
    this.hideAction();
    this.refresh();
  },

  async refresh() {
    try {
      // Every page of a long folder: the server sends 10,000 names a page.
      let data = null;
      let after = "";
      do {
        const q = `dir=${encodeURIComponent(this.dir)}${after ? `&after=${encodeURIComponent(after)}` : ""}`;
        const res = await fetch(`/api/files?${q}`, { credentials: "same-origin" });
        const page = await res.json().catch(() => ({}));
        if (!res.ok) throw new Error(page.message || res.statusText);
        if (data) data.entries.push(...page.entries);
        else data = page;
        after = page.truncated && page.next ? page.next : "";
      } while (after && data.entries.length < 100000);
      this.info = data;
      for (const n of [...this.selected]) if (!data.entries.some((e) => e.name === n)) this.selected.delete(n);
      this.render(data);
      this.error("");
    } catch (e) {
      this.error(e.message);
    }
  },

  render(data) {
    this.el("files-dir").textContent = `/${data.dir}`;
    const rows = [];
    if (data.dir) {
      const up = data.dir.includes("/") ? data.dir.slice(0, data.dir.lastIndexOf("/")) : "";
      rows.push(this.row({ name: "..", kind: "dir" }, up, "Up one folder"));
    }
    for (const e of data.entries.slice(0, this.shown)) rows.push(this.row(e, this.join(e.name)));
    this.el("file-rows").replaceChildren(...rows);
    const left = data.entries.length - this.shown;
    this.el("files-more").hidden = left <= 0;
    this.el("files-more").textContent = `Show more (${left} not shown)`;
    this.el("files-empty").hidden = data.entries.length > 0;
    this.el("files-usage").textContent =
      `${data.entries.length} item${data.entries.length === 1 ? "" : "s"}; ` +
      `${human(data.used)} of ${human(data.quota)} used; largest file ${human(data.max_file)}`;
    this.el("folder-list").replaceChildren(...data.entries.filter((e) => e.kind === "dir").map((e) => {
      const o = document.createElement("option");
      o.value = this.join(e.name);
      return o;
    }));
    this.selection();
  },

  /** One table row: a folder opens, a file downloads; both can be
   * selected, renamed and deleted. */
  row(e, path, label) {
    const tr = document.createElement("tr");
    const pick = document.createElement("td");
    const name = document.createElement("td");
    name.className = "fname";
    if (e.kind === "dir") {
      const b = document.createElement("button");
      b.type = "button";
      b.className = "link";
      b.textContent = label || `${e.name}/`;
      b.onclick = () => this.go(path);
      name.append(b);
    } else {
      const a = document.createElement("a");
      a.href = this.url(path);
      a.download = e.name;
      a.textContent = e.name;
      name.append(a);
    }
    const size = document.createElement("td");
    size.className = "num";
    size.textContent = e.kind === "file" ? human(e.size) : "";
    const date = document.createElement("td");
    date.className = "date";
    date.textContent = e.mtime ? new Date(e.mtime * 1000).toLocaleString([], { dateStyle: "short", timeStyle: "short" }) : "";
    const act = document.createElement("td");
    act.className = "acts";
    if (!label) {
      const box = document.createElement("input");
      box.type = "checkbox";
      box.checked = this.selected.has(e.name);
      box.setAttribute("aria-label", `Select ${e.name}`);
      box.onchange = () => {
        if (box.checked) this.selected.add(e.name);
        else this.selected.delete(e.name);
        this.selection();
      };
      pick.append(box);
      act.append(
        this.button("Share", `Share ${e.name}`, "quiet", () => shares.ask(path, e.kind === "dir")),
        ...(e.kind === "dir" ? [this.button("Upload link…", `Upload link into ${e.name}`, "quiet", (ev) => shares.askUpload(path, ev.target))] : []),
        this.button("Rename", `Rename ${e.name}`, "quiet", () => this.askRename(e)),
        this.button("Delete", `Delete ${e.name}`, "danger", () => this.remove([e])),
      );
    }
    tr.append(pick, name, size, date, act);
    return tr;
  },

  button(text, label, cls, onclick) {
    const b = document.createElement("button");
    b.type = "button";
    b.className = cls;
    b.textContent = text;
    b.setAttribute("aria-label", label);
    b.onclick = onclick;
    return b;
  },

  /** The selection bar: shown while something is selected. */
  selection() {
    const n = this.selected.size;
    this.el("selection").hidden = n === 0;
    this.el("selection-count").textContent = `${n} selected`;
    const all = this.info ? this.info.entries.length : 0;
    this.el("select-all").checked = n > 0 && n === all;
    this.el("select-all").indeterminate = n > 0 && n < all;
  },

  picked() {
    return (this.info ? this.info.entries : []).filter((e) => this.selected.has(e.name));
  },

  /** The inline form, for a new folder, a rename or a move. */
  ask(label, value, go, doit) {
    this.action = doit;
    this.el("file-action-label").textContent = label;
    this.el("file-action-go").textContent = go;
    const input = this.el("file-action-input");
    input.value = value;
    this.el("file-action").hidden = false;
    input.focus();
    input.select();
  },

  hideAction() {
    this.el("file-action").hidden = true;
    this.action = null;
  },

  askFolder() {
    this.ask("New folder name", "", "Create", async (name) => {
      await link.request({ type: "file.mkdir", path: this.join(name) });
    });
  },

  askRename(e) {
    this.ask(`Rename ${e.name} to`, e.name, "Rename", async (name) => {
      if (name !== e.name) await link.request({ type: "file.mv", from: this.join(e.name), to: this.join(name) });
    });
  },

  askMove(list) {
    const what = list.length === 1 ? list[0].name : `${list.length} items`;
    this.ask(`Move ${what} to folder (empty: your root)`, this.dir, "Move", async (dest) => {
      const to = dest.replace(/^\/+|\/+$/g, "");
      for (const e of list) {
        await link.request({ type: "file.mv", from: this.join(e.name), to: to ? `${to}/${e.name}` : e.name });
      }
      this.selected.clear();
    });
  },

  async submitAction() {
    const doit = this.action;
    if (!doit) return;
    const value = this.el("file-action-input").value.trim();
    let failure = "";
    try {
      await doit(value);
      this.hideAction();
    } catch (err) {
      failure = err.message;
    }
    await this.refresh(); // clears the error line: set it after
    this.error(failure);
  },

  async remove(list) {
    const names = list.map((e) => e.name);
    const dirs = list.some((e) => e.kind === "dir");
    const what = list.length === 1 ? names[0] : `these ${list.length} items`;
    if (!confirm(`Delete ${what}${dirs ? " (folders with everything in them)" : ""}?`)) return;
    let failure = "";
    for (const e of list) {
      try {
        const res = await fetch(this.url(this.join(e.name)) + (e.kind === "dir" ? "?recursive=true" : ""), {
          method: "DELETE", credentials: "same-origin", headers: { "X-Sockit": "1" },
        });
        const data = await res.json().catch(() => ({}));
        if (!res.ok) throw new Error(data.message || res.statusText);
        this.selected.delete(e.name);
      } catch (err) {
        failure = err.message;
      }
    }
    await this.refresh();
    if (failure) this.error(failure);
  },

  /** Downloads each selected file (folders are skipped: get -r fetches them). */
  download(list) {
    for (const e of list.filter((x) => x.kind === "file")) {
      const a = document.createElement("a");
      a.href = this.url(this.join(e.name));
      a.download = e.name;
      document.body.append(a);
      a.click();
      a.remove();
    }
    if (list.some((x) => x.kind === "dir")) this.error("Folders are not downloaded; open them, or use sockit get -r.");
  },
};

function human(n) {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
  return i ? `${n.toFixed(n < 10 ? 1 : 0)} ${units[i]}` : `${n} B`;
}

files.el("new-folder").addEventListener("click", () => files.askFolder());
files.el("file-action").addEventListener("submit", (ev) => { ev.preventDefault(); files.submitAction(); });
files.el("file-action-cancel").addEventListener("click", () => files.hideAction());
files.el("files-more").addEventListener("click", () => { files.shown += FILES_PAGE; files.render(files.info); });
files.el("sel-delete").addEventListener("click", () => files.remove(files.picked()));
files.el("sel-move").addEventListener("click", () => files.askMove(files.picked()));
files.el("sel-download").addEventListener("click", () => files.download(files.picked()));
files.el("select-all").addEventListener("change", (ev) => {
  files.selected = new Set(ev.target.checked && files.info ? files.info.entries.map((e) => e.name) : []);
  files.render(files.info);
});
