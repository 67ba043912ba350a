// app.js: the console's entry point: sign-in, the frame and the hash
// routes (#/functions, #/functions/NAME, #/buckets, ...).

import { setSession, AwsError } from './aws.js';
import { h, fill, errorBox } from './ui.js';

// Pages load when first shown, so the first one does not wait for the
// others' scripts.
const functions = () => import('./functions.js');
const create = () => import('./create.js');
const fn = () => import('./function.js');
const services = () => import('./services.js');

const root = document.getElementById('app');
let who = null;
let leave = null; // the current page's clean-up (timers)

const nav = [
  ['functions', 'Functions'], ['buckets', 'Buckets'], ['routes', 'HTTP APIs'], ['schedules', 'Schedules'],
  ['queues', 'Queues'], ['tables', 'Tables'], ['async', 'Async queue'], ['usage', 'Usage & cost'],
];

async function whoami() {
  const res = await fetch('api/whoami', { credentials: 'same-origin' });
  if (res.status === 401) return null;
  if (!res.ok) throw new AwsError('ConsoleError', 'whoami answered ' + res.status, res.status);
  return res.json();
}

function signedOut() {
  who = null;
  setSession('');
  signInPage();
}

function signInPage(message) {
  if (leave) { leave(); leave = null; }
  const out = h('div.out');
  if (message) out.append(errorBox(message));
  const id = h('input#access-key-id', { name: 'AccessKeyId', autocomplete: 'username', spellcheck: 'false', required: true });
  const secret = h('input#secret-access-key', { name: 'SecretAccessKey', type: 'password', autocomplete: 'current-password', required: true });
  const submit = h('button.primary#sign-in', { type: 'submit' }, 'Sign in');
  const form = h('form.signin', {
    on: {
      submit: async (e) => {
        e.preventDefault();
        submit.disabled = true;
        out.replaceChildren(h('p.muted', 'Signing in…'));
        try {
          const res = await fetch('api/signin', {
            method: 'POST', credentials: 'same-origin', headers: { 'Content-Type': 'application/json' },
            body: JSON.stringify({ AccessKeyId: id.value, SecretAccessKey: secret.value }),
          });
          const j = await res.json().catch(() => ({}));
          secret.value = '';
          if (!res.ok) throw new AwsError(j.Code || 'SignInFailed', j.Message || res.statusText, res.status);
          await start();
        } catch (err) {
          out.replaceChildren(errorBox(err));
        } finally {
          submit.disabled = false;
        }
      },
    },
  },
  h('h1', h('span.logo', '▲'), ' Aloft console'),
  h('p.muted', 'Sign in with an access key pair: the root keys (aloft env prints them) or an IAM user\u2019s.'),
  h('label.field', h('span', 'Access key ID'), id),
  h('label.field', h('span', 'Secret access key'), secret),
  submit, out,
  h('p.small.muted', 'The secret is checked by the server and never kept in this browser; the session ends after 12 hours, or one idle hour.'));
  fill(root, h('div.signin-wrap', form));
  id.focus();
}

function frame() {
  const main = h('main#main');
  const links = nav.map(([r, label]) => h('a', { href: '#/' + r, dataset: { route: r } }, label));
  const header = h('header.top',
    h('a.brand', { href: '#/functions' }, h('span.logo', '▲'), ' Aloft'),
    h('nav', links),
    h('div.who', h('span#who', who.Name === 'root' ? 'root' : 'user ' + who.Name), ' ',
      h('button.link#sign-out', {
        type: 'button', on: {
          click: async () => {
            await fetch('api/signout', { method: 'POST', credentials: 'same-origin', headers: { 'X-Console-Csrf': who.Csrf } });
            signedOut();
          },
        },
      }, 'Sign out')));
  fill(root, header, main);
  return { main, links };
}

let shell = null;

async function route() {
  if (!who) return;
  if (leave) { leave(); leave = null; }
  if (!shell || !root.contains(shell.main)) shell = frame();
  const hash = location.hash.replace(/^#\/?/, '') || 'functions';
  const parts = hash.split('/').map(decodeURIComponent);
  for (const a of shell.links) a.classList.toggle('active', a.dataset.route === parts[0]);
  const main = shell.main;
  main.replaceChildren(h('p.muted', 'Loading…'));
  const pages = {
    functions: async () => (parts[1] === undefined ? (await functions()).functionsPage(main)
      : parts[1] === '+new' ? (await create()).createPage(main) : (await fn()).functionPage(main, parts[1], parts[2])),
    buckets: async () => (await services()).bucketsPage(main, parts[1], parts.slice(2).join('/')),
    routes: async () => (await services()).routesPage(main, parts[1]),
    schedules: async () => (await services()).schedulesPage(main),
    queues: async () => (await services()).queuesPage(main, parts[1]),
    tables: async () => (await services()).tablesPage(main, parts[1]),
    async: async () => (await services()).asyncPage(main),
    usage: async () => (await services()).usagePage(main),
  };
  const page = pages[parts[0]];
  try {
    if (!page) {
      main.replaceChildren(h('p', 'No page ' + hash + '.'));
      return;
    }
    leave = (await page()) || null;
  } catch (err) {
    main.replaceChildren(errorBox(err));
  }
}

async function start() {
  if (/^#?\/?(functions)?$/.test(location.hash)) functions(); // fetch the landing page's script beside whoami
  who = await whoami();
  if (!who) { signInPage(); return; }
  setSession(who.Csrf, signedOut);
  shell = null;
  if (!location.hash) location.replace('#/functions');
  route();
}

window.addEventListener('hashchange', route);
start().catch((err) => fill(root, errorBox(err)));
