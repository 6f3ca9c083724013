// The sign-in screen: demo users (only under `handoff dev`) and a paste-a-token form that always works.

import { fetchDemoUsers } from './api.js';
import { initials } from './badges.js';
import { h, replace } from './dom.js';
import { cleanPastedToken, readToken } from './token.js';

export function mountSignin(root, { onToken, message }) {
  const demoSlot = h('div', { class: 'signin__demo' });
  const input = h('textarea', { id: 'token-input', class: 'input mono', testid: 'token-input', rows: '3',
    autocomplete: 'off', spellcheck: 'false', placeholder: 'eyJhbGciOi…' });
  const error = h('p', { class: 'form-error', role: 'alert' });
  const form = h('form', { class: 'signin__token' },
    h('label', { class: 'label', for: 'token-input' }, 'Paste a token'),
    h('p', { class: 'hint', id: 'token-hint' }, 'A JWT from your MSP application or from `handoff token`.'),
    input, error,
    h('button', { type: 'submit', class: 'btn btn--primary', testid: 'token-submit' }, 'Sign in with token'));
  input.setAttribute('aria-describedby', 'token-hint');
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const token = cleanPastedToken(input.value);
    if (!readToken(token)) {
      error.textContent = 'That does not look like a valid, unexpired token.';
      input.focus();
      return;
    }
    input.value = '';
    onToken(token);
  });

  const heading = h('h1', { tabindex: '-1' }, 'Sign in');
  replace(root, h('section', { class: 'signin', testid: 'signin', 'aria-labelledby': 'signin-heading' },
    h('div', { class: 'signin__card' },
      heading,
      h('p', { class: 'page__sub' }, 'Escalations from your team, live, with an AI first look.'),
      message ? h('p', { class: 'banner banner--warn', role: 'alert' }, message) : null,
      demoSlot, form)));
  heading.id = 'signin-heading';

  fetchDemoUsers().then((users) => {
    if (!users.length || !demoSlot.isConnected) return;
    replace(demoSlot,
      h('h2', { class: 'signin__subhead' }, 'Demo users'),
      h('ul', { class: 'demo-users' }, users.map((user) => h('li', {},
        h('button', {
          type: 'button', class: 'demo-user', testid: 'demo-user', 'data-user-name': user.name,
          onclick: () => onToken(user.token),
        },
          h('span', { class: 'avatar', 'aria-hidden': 'true' }, initials(user.name)),
          h('span', { class: 'demo-user__text' },
            h('span', { class: 'demo-user__name' }, user.name),
            h('span', { class: 'demo-user__role' }, user.role),
            h('span', { class: 'demo-user__blurb' }, user.blurb || ''))))),
      h('p', { class: 'or' }, h('span', {}, 'or'))));
  });
}

