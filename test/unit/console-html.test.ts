// The console's two small guards: the one escape function every outside text goes through, and the
// masked form tokens.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { consolePath, escapeHtml, html, joinHtml, messageHtml } from '../../src/console/html.js';
import { formToken, formTokenMatches } from '../../src/console/csrf.js';

test('escapeHtml makes every markup character text, in element content and quoted attributes alike', () => {
  assert.equal(escapeHtml(`<script>alert('x')</script> & "y"`), '&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;y&quot;');
  assert.equal(escapeHtml('plain text 123'), 'plain text 123');
});

test('html escapes every value, nested lists included, and inserts only what html itself made', () => {
  const reason = '<img src=x onerror=alert(1)>';
  const built = html`<p title="${reason}">${reason}${[reason, html`<b>${reason}</b>`]}</p>`;
  assert.equal(built.text, '<p title="&lt;img src=x onerror=alert(1)&gt;">&lt;img src=x onerror=alert(1)&gt;&lt;img src=x onerror=alert(1)&gt;<b>&lt;img src=x onerror=alert(1)&gt;</b></p>');
  assert.equal(html`${null}${undefined}${false}${0}`.text, '0');
  assert.equal(joinHtml(['a<', html`<i>b</i>`], ', ').text, 'a&lt;, <i>b</i>');
});

test('messageHtml shows a terminal message\'s `command` marks as <code>, escaping every part, and leaves an unpaired mark as it is', () => {
  assert.equal(messageHtml('use a viewer token (`ganymede viewer add NAME`); a GEO\'s token cannot').text, 'use a viewer token (<code>ganymede viewer add NAME</code>); a GEO&#39;s token cannot');
  assert.equal(messageHtml('`<b>` & `x`').text, '<code>&lt;b&gt;</code> &amp; <code>x</code>');
  assert.equal(messageHtml('a `b` c `d').text, 'a <code>b</code> c `d');
  assert.equal(messageHtml('no marks <i>').text, 'no marks &lt;i&gt;');
});

test('consolePath encodes each segment and query value', () => {
  assert.equal(consolePath(['cycle', '2026-01-01T10']), '/console/cycle/2026-01-01T10');
  assert.equal(consolePath(['txn', '1/../x"y']), '/console/txn/1%2F..%2Fx%22y');
  assert.equal(consolePath([], { before: '2026-01-01T10', hours: undefined, q: 'a&b' }), '/console?before=2026-01-01T10&q=a%26b');
});

test('form tokens: a fresh mask each time, each unmasking to the session secret; any other secret, change or spelling fails', () => {
  const secret = randomBytes(32).toString('hex');
  const first = formToken(secret);
  const second = formToken(secret);
  assert.notEqual(first, second);
  assert.ok(formTokenMatches(secret, first) && formTokenMatches(secret, second));
  assert.equal(formTokenMatches(randomBytes(32).toString('hex'), first), false);
  for (const at of [0, 43, 84, 85]) {
    const changed = `${first.slice(0, at)}${first[at] === 'A' ? 'B' : 'A'}${first.slice(at + 1)}`;
    assert.equal(formTokenMatches(secret, changed), false, `changed at ${at}`);
  }
  for (const bad of [undefined, null, '', first.slice(1), `${first}A`, 'x'.repeat(86)]) assert.equal(formTokenMatches(secret, bad), false);
});
