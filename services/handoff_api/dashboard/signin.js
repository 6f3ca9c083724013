// The sign-in screen: demo users (only under `handoff dev`) and a paste-a-token form that always works;
// and the question asked before a sign-in link replaces whoever is signed in.

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
    h('p', { class: 'hint', id: 'token-hint' }, 'A JWT from your MSP application or from ', h('code', {}, 'handoff token'), '.'),
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
            h('span', { class: 'demo-user__blurb' }, user.blurb || '')))))),
      h('p', { class: 'or' }, h('span', {}, 'or')));
  });
}


let openQuestion = null;

const who = (user) => `${user.name} (${user.role}${user.email ? `, ${user.email}` : ''})`;

// Asks, in the page, whether `next` may replace `current` in this tab; resolves true only on "Switch".
export function confirmSwitch(current, next) {
  openQuestion?.close('stay');
  const stay = h('button', { type: 'submit', class: 'btn', value: 'stay', testid: 'switch-stay' }, `Stay signed in as ${current.name}`);
  const go = h('button', { type: 'submit', class: 'btn btn--primary', value: 'switch', testid: 'switch-confirm' }, `Sign in as ${next.name}`);
  const otherAccount = current.accountId !== next.accountId;
  const dialog = h('dialog', { class: 'dialog', testid: 'switch-user', 'aria-labelledby': 'switch-title', 'aria-describedby': 'switch-text' },
    h('h2', { id: 'switch-title' }, 'Switch user?'),
    h('div', { id: 'switch-text' },
      h('p', {}, 'This sign-in link is for ', h('strong', { testid: 'switch-next' }, who(next)),
        otherAccount ? ', in another account.' : '.'),
      h('p', {}, 'You are signed in as ', h('strong', { testid: 'switch-current' }, who(current)),
        `. Switching signs ${current.name} out of this tab.`)),
    h('form', { method: 'dialog', class: 'dialog__buttons' }, stay, go));
  document.body.append(dialog);
  openQuestion = dialog;
  return new Promise((resolve) => {
    dialog.addEventListener('close', () => {
      if (openQuestion === dialog) openQuestion = null;
      dialog.remove();
      resolve(dialog.returnValue === 'switch');
    }, { once: true });
    dialog.showModal();
    // Staying is the safe answer, so it is where Enter lands.
    stay.focus();
  });
}
