// The page and the API share an origin, so relative URLs reach the functions.
const list = document.getElementById("items");
const error = document.getElementById("error");
const count = document.getElementById("count");

function show(item) {
  const li = document.createElement("li");
  li.textContent = item.name;
  const when = document.createElement("small");
  when.textContent = item.created;
  li.appendChild(when);
  list.appendChild(li);
}

async function load() {
  const resp = await fetch("items");
  if (!resp.ok) throw new Error(`GET /items: ${resp.status}`);
  const body = await resp.json();
  list.replaceChildren();
  body.items.forEach(show);
  // Kept by a function the table's stream triggers: it may lag a moment.
  count.textContent = `${body.count} added so far`;
}

document.getElementById("add").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const input = document.getElementById("name");
  error.textContent = "";
  const resp = await fetch("items", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ name: input.value }),
  });
  const body = await resp.json();
  if (resp.status !== 201) {
    error.textContent = body.message || `POST /items: ${resp.status}`;
    return;
  }
  show(body);
  input.value = "";
});

load().catch((err) => { error.textContent = err.message; });
