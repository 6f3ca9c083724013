// The escalation queue screen: one card per open escalation, kept in place as the live stream changes it.

import { urgencyPill } from './badges.js';
import { h, replace } from './dom.js';
import { pickUp } from './claim.js';
import { seenEscalations } from './storage.js';
import { timeAgo } from './time.js';

const AGE_REFRESH_MS = 30_000;

export const ASSESSMENT_LABELS = {
  pending: 'Assessment pending',
  ready: 'Assessment ready',
  failed: 'Assessment failed',
  not_requested: 'No assessment',
};

export function mountQueue(root, { queue, navigate }) {
  const cards = new Map();
  const list = h('ul', { class: 'cards', 'aria-label': 'Open escalations' });
  const summary = h('p', { class: 'page__sub' });
  const notice = h('div');
  const heading = h('h1', { tabindex: '-1' }, 'Escalation queue');
  const section = h('section', { class: 'page', testid: 'queue', 'aria-labelledby': 'queue-heading' },
    h('div', { class: 'page__head' }, heading, summary), notice, list);
  heading.id = 'queue-heading';
  replace(root, section);

  const open = (id) => {
    seenEscalations.add(id);
    navigate(`#/handoffs/${id}`);
  };

  function buildCard(item) {
    const titleId = `card-title-${item.id}`;
    const pick = h('button', { type: 'button', class: 'btn btn--primary', testid: 'pick-up', 'aria-describedby': titleId }, 'Pick up');
    pick.addEventListener('click', async (event) => {
      // Picking up must not also open the card underneath the button.
      event.stopPropagation();
      card.querySelector('[data-testid=unread-dot]')?.remove();
      const handoff = await pickUp(item.id, pick, queue);
      if (handoff) navigate(`#/handoffs/${item.id}`);
    });
    const card = h('article', {
      class: 'card', testid: 'queue-card', 'data-handoff-id': item.id, tabindex: '0', 'aria-labelledby': titleId,
    },
      h('div', { class: 'card__body' },
        h('div', { class: 'card__tags' }, urgencyPill(item.urgency), h('span', { class: 'tag', testid: 'assessment-status' }),
          h('span', { class: 'tag tag--reminder', testid: 'reminder-badge', hidden: true })),
        h('h2', { class: 'card__title', testid: 'title', id: titleId }, item.title),
        h('p', { class: 'card__meta' }, 'from ', h('span', { testid: 'escalator', class: 'card__who' }, item.createdBy?.name || 'Someone'),
          h('span', { 'aria-hidden': 'true' }, ' · '), h('time', { testid: 'age', datetime: item.createdAt }))),
      h('div', { class: 'card__actions' }, pick));
    card.addEventListener('click', () => open(item.id));
    card.addEventListener('keydown', (event) => {
      if (event.key === 'Enter' && event.target === card) { event.preventDefault(); open(item.id); }
    });
    return card;
  }

  function updateCard(card, item) {
    const status = card.querySelector('[data-testid=assessment-status]');
    status.dataset.status = item.assessmentStatus;
    status.className = `tag tag--${item.assessmentStatus}`;
    status.textContent = ASSESSMENT_LABELS[item.assessmentStatus] || item.assessmentStatus;
    card.querySelector('[data-testid=age]').textContent = timeAgo(item.createdAt);
    const reminder = card.querySelector('[data-testid=reminder-badge]');
    reminder.hidden = !item.reminders;
    reminder.textContent = item.reminders ? `Reminder ${item.reminders}` : '';
    const dot = card.querySelector('[data-testid=unread-dot]');
    const unread = !seenEscalations.has(item.id);
    if (unread && !dot) {
      card.prepend(h('span', { class: 'unread-dot', testid: 'unread-dot', title: 'Not opened yet' }, h('span', { class: 'visually-hidden' }, 'Unread. ')));
    } else if (!unread && dot) {
      dot.remove();
    }
  }

  // A reminder shakes the card once: restart the animation even if the last one is still running.
  function bump(li) {
    li.classList.remove('cards__item--bumped');
    void li.offsetWidth;
    li.classList.add('cards__item--bumped');
    li.addEventListener('animationend', () => li.classList.remove('cards__item--bumped'), { once: true });
  }

  function render(detail = {}) {
    const items = queue.sorted();
    const animate = new Set(detail.added || []);
    const bumped = new Set(detail.reminded || []);
    const present = new Set(items.map((item) => item.id));
    for (const [id, card] of cards) {
      if (present.has(id)) continue;
      // Keep keyboard users in the list when the card they were on is claimed by someone else.
      const hadFocus = card.contains(document.activeElement);
      const li = card.parentElement;
      const neighbour = li.nextElementSibling || li.previousElementSibling;
      li.remove();
      cards.delete(id);
      if (hadFocus) (neighbour?.querySelector('.card') || heading).focus();
    }
    let previous = null;
    for (const item of items) {
      let card = cards.get(item.id);
      if (!card) {
        card = buildCard(item);
        cards.set(item.id, card);
        const li = h('li', { class: 'cards__item' }, card);
        if (animate.has(item.id)) {
          li.classList.add('cards__item--arrived');
          // Drop the class once the longer highlight ends, so a later re-render cannot replay it.
          const done = (event) => {
            if (event.animationName !== 'glow') return;
            li.classList.remove('cards__item--arrived');
            li.removeEventListener('animationend', done);
          };
          li.addEventListener('animationend', done);
        }
        list.insertBefore(li, previous ? previous.nextSibling : list.firstChild);
      } else {
        const li = card.parentElement;
        // Move only out-of-place cards: moving the focused one would drop keyboard focus.
        const expected = previous ? previous.nextSibling : list.firstChild;
        if (li !== expected) list.insertBefore(li, expected);
      }
      updateCard(card, item);
      if (bumped.has(item.id)) bump(card.parentElement);
      previous = card.parentElement;
    }
    renderNotice(items.length);
  }

  function renderNotice(count) {
    if (queue.status === 'forbidden') {
      summary.textContent = '';
      replace(notice, h('div', { class: 'empty', testid: 'queue-forbidden' },
        h('p', { class: 'empty__title' }, 'The escalation queue is for engineers, admins and owners.'),
        h('p', {}, 'Your role can read a handoff from a link, but cannot see or pick up escalations.')));
      return;
    }
    if (queue.status === 'loading' || queue.status === 'idle') {
      summary.textContent = 'Loading escalations…';
      replace(notice);
      return;
    }
    if (queue.status === 'error' && count === 0) {
      summary.textContent = '';
      replace(notice, h('div', { class: 'empty', role: 'alert' },
        h('p', { class: 'empty__title' }, 'The queue could not be loaded.'),
        h('p', {}, queue.error?.detail || ''),
        h('button', { type: 'button', class: 'btn', onclick: () => queue.load() }, 'Try again')));
      return;
    }
    summary.textContent = count === 1 ? '1 open escalation, newest first' : `${count} open escalations, newest first`;
    if (count === 0) {
      if (!notice.querySelector('[data-testid=queue-empty]')) {
        replace(notice, h('div', { class: 'empty', testid: 'queue-empty' },
          h('span', { class: 'empty__icon', 'aria-hidden': 'true' }, '✓'),
          h('p', { class: 'empty__title' }, 'All clear: nobody is waiting for help.'),
          h('p', {}, 'New escalations from your team appear here the moment they are raised.')));
      }
    } else {
      replace(notice);
    }
  }

  const onChange = (event) => render(event.detail);
  queue.addEventListener('change', onChange);
  const ageTimer = setInterval(() => render(), AGE_REFRESH_MS);
  render();
  queue.load();

  return () => {
    queue.removeEventListener('change', onChange);
    clearInterval(ageTimer);
  };
}
