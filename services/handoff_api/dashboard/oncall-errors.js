// The API's field-named errors about the on-call rota, as (field, sentence) pairs a person reads:
// `rotations[0].members[2]` becomes "Member 3", msgspec's "Expected `int` >= 1" becomes "must be 1 or more".

const PATH = /`?\$?\.?((?:rotations|overrides)(?:\[\d+\])?(?:\.[a-z_]+(?:\[\d+\])?)*|time_zone)`?/g;
const OVERRIDE_FIELDS = { rotation: 'Rotation', user_id: 'Who covers', start: 'Start', end: 'End' };
const ROTATION_FIELDS = { name: 'Name', members: 'Members', start: 'First turn starts', turn_days: 'Turn length', windows: 'Windows' };
const WINDOW_FIELDS = { days: 'Days', from: 'From', to: 'To' };

// What a field is called on screen; `doc` gives rotations their names.
export function fieldLabel(path, doc = { rotations: [] }) {
  if (path === 'time_zone') return 'Time zone';
  if (path === 'rotations') return 'Rotations';
  if (path === 'overrides') return 'Covers';
  let m = /^overrides\[(\d+)\](?:\.(\w+))?/.exec(path);
  if (m) return m[2] ? `${OVERRIDE_FIELDS[m[2]] || m[2]} of cover ${Number(m[1]) + 1}` : `Cover ${Number(m[1]) + 1}`;
  m = /^rotations\[(\d+)\](?:\.(\w+)(?:\[(\d+)\](?:\.(\w+))?)?)?/.exec(path);
  if (!m) return path;
  const [, index, field, item, sub] = m;
  const rotation = doc.rotations[Number(index)]?.name ? `rotation ${doc.rotations[Number(index)].name}` : `rotation ${Number(index) + 1}`;
  if (!field) return rotation.charAt(0).toUpperCase() + rotation.slice(1);
  if (field === 'members' && item !== undefined) return `Member ${Number(item) + 1}`;
  if (field === 'windows' && item !== undefined) return sub ? `${WINDOW_FIELDS[sub] || sub} of window ${Number(item) + 1}` : `Window ${Number(item) + 1}`;
  return ROTATION_FIELDS[field] || field;
}

function plain(message) {
  return String(message)
    .replace(/Expected `int`, got `\w+`/g, 'enter a whole number')
    .replace(/Expected `str`, got `\w+`/g, 'enter a value')
    .replace(/Expected `(?:int|number|float)` >= (\d+)/g, 'must be $1 or more')
    .replace(/Expected `(?:int|number|float)` <= (\d+)/g, 'must be $1 or less')
    .replace(/Expected `str` of length >= 1/g, 'must not be empty')
    .replace(/Expected `str` of length <= (\d+)/g, 'must be $1 characters or fewer')
    .replace(/Expected `str` matching regex .*/g, 'use lowercase letters, digits and hyphens only')
    .replace(/Expected `array` of length <= (\d+)/g, 'at most $1 allowed')
    .replace(/Expected `array` of length >= (\d+)/g, 'at least $1 needed')
    .replace(/Invalid enum value .*/g, 'choose one of the values offered')
    .replace(/Object missing required field `(\w+)`/g, (_, name) => `${name.replace(/_/g, ' ')} is required`);
}

const sentence = (text) => {
  const t = text.trim();
  return t.charAt(0).toUpperCase() + t.slice(1) + (/[.!?]$/.test(t) ? '' : '.');
};

// [{path, text}] from an ApiError; `path` is null when the error names no field.
export function fieldErrors(error, doc) {
  const body = error?.body || {};
  const items = Array.isArray(body.errors) && body.errors.length
    ? body.errors.map((item) => ({ key: item?.key, message: item?.message || body.detail }))
    : [{ key: body.field, message: error?.detail || body.detail || '' }];
  return items.map(({ key, message }) => {
    let raw = String(message || 'not accepted');
    const atPath = / - at `([^`]*)`/.exec(raw);
    raw = raw.replace(/ - at `[^`]*`/, '');
    PATH.lastIndex = 0;
    const named = key || atPath?.[1] || PATH.exec(raw)?.[1] || null;
    const path = named ? String(named).replace(/^\$\.?/, '') : null;
    if (!path) {
      // A request line ("Validation failed for PUT /api/...") is no help to a person.
      return { path: null, text: /\/api\//.test(raw) ? 'The rota was not accepted: check each value and save again.' : sentence(plain(raw)) };
    }
    let text = plain(raw).replace(PATH, (_, p) => fieldLabel(p, doc));
    if (!text.includes(fieldLabel(path, doc))) text = `${fieldLabel(path, doc)}: ${text}`;
    return { path, text: sentence(text.replace(/`/g, '')) };
  });
}
