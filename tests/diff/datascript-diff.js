// datascript-diff.js - differential test: the same queries on DataScript
// (the reference implementation, from npm) and on dh (dh-create, dh-transact,
// dh-query), results compared as sets of rows.  A fixed list of queries plus
// queries generated at random from templates over a generated database; the
// seed is fixed unless DH_DIFF_SEED says otherwise.  Prints TAP.
//
// usage: node datascript-diff.js SCRATCH_DIR [NRANDOM]
'use strict';
const { execFileSync } = require('child_process');
const path = require('path');
const fs = require('fs');

let d;
try {
  d = require('datascript');
} catch (e) {
  console.log('1..0 # SKIP datascript is not installed (scripts/install-deps --test)');
  process.exit(0);
}

const scratch = process.argv[2] || fs.mkdtempSync('/tmp/dh-diff.');
const nrandom = parseInt(process.argv[3] || '250', 10);
let seed = parseInt(process.env.DH_DIFF_SEED || '20261125', 10) >>> 0;
function rnd() { // xorshift32, so runs are reproducible
  seed ^= seed << 13; seed >>>= 0; seed ^= seed >>> 17; seed ^= seed << 5; seed >>>= 0;
  return seed / 4294967296;
}
const pick = (a) => a[Math.floor(rnd() * a.length)];
const int = (lo, hi) => lo + Math.floor(rnd() * (hi - lo + 1));

// ---- the database ----------------------------------------------------------
const CITIES = ['Oslo', 'Rome', 'Lima', 'Kyiv'];
const LIKES = ['tea', 'jazz', 'chess', 'maps', 'rust'];
const N = 80;
const people = [];
for (let i = 0; i < N; i++) {
  const p = { name: 'p' + i, age: int(10, 70) };
  if (rnd() < 0.8) p.city = pick(CITIES);
  const likes = LIKES.filter(() => rnd() < 0.35);
  if (likes.length) p.likes = likes;
  const nf = int(0, 3);
  const fr = new Set();
  for (let k = 0; k < nf; k++) fr.add(int(0, N - 1));
  if (fr.size) p.friend = [...fr];
  people.push(p);
}

const dsSchema = {
  name: { ':db/unique': ':db.unique/identity' },
  friend: { ':db/valueType': ':db.type/ref', ':db/cardinality': ':db.cardinality/many' },
  likes: { ':db/cardinality': ':db.cardinality/many' },
};
let db = d.empty_db(dsSchema);
db = d.db_with(db, people.map((p, i) => {
  const e = { ':db/id': -(i + 1), name: p.name, age: p.age };
  if (p.city) e.city = p.city;
  if (p.likes) e.likes = p.likes;
  return e;
}));
db = d.db_with(db, people.filter((p) => p.friend).map((p) => ({ ':db/id': ['name', p.name], friend: p.friend.map((f) => ['name', 'p' + f]) })));

const edn = (s) => JSON.stringify(s);
const schemaEdn = '[' +
  '{:db/ident :name :db/valueType :db.type/string :db/cardinality :db.cardinality/one :db/unique :db.unique/identity}' +
  '{:db/ident :age :db/valueType :db.type/long :db/cardinality :db.cardinality/one}' +
  '{:db/ident :city :db/valueType :db.type/string :db/cardinality :db.cardinality/one}' +
  '{:db/ident :likes :db/valueType :db.type/string :db/cardinality :db.cardinality/many}' +
  '{:db/ident :friend :db/valueType :db.type/ref :db/cardinality :db.cardinality/many}]';
const tx1 = '[' + people.map((p) => '{:name ' + edn(p.name) + ' :age ' + p.age +
  (p.city ? ' :city ' + edn(p.city) : '') +
  (p.likes ? ' :likes [' + p.likes.map(edn).join(' ') + ']' : '') + '}').join('\n') + ']';
const tx2 = '[' + people.filter((p) => p.friend).map((p) => '{:db/id [:name ' + edn(p.name) + '] :friend [' +
  p.friend.map((f) => '[:name "p' + f + '"]').join(' ') + ']}').join('\n') + ']';

const uri = 'file://' + path.resolve(scratch, 'diffdb');
execFileSync('dh-create', ['-q', uri]);
for (const tx of [schemaEdn, tx1, tx2])
  execFileSync('dh-transact', ['-q', '-o', 'none', uri], { input: tx });

// ---- queries: text with {attr} placeholders --------------------------------
// For dh attributes are keywords (:name); DataScript's JS API keeps them as
// strings ("name").
const render = (q, ds) => q.replace(/\{(\w+)\}/g, (_, a) => (ds ? '"' + a + '"' : ':' + a));
const OPS = ['<', '>', '<=', '>=', '=', 'not='];
const rules = '[[(reach ?a ?b) [?a {friend} ?b]] [(reach ?a ?b) [?a {friend} ?t] (reach ?t ?b)]]';
// (left-recursive rules are in tests/data/query/rules.edn: DataScript runs out
// of memory on them over this data)

const fixed = [
  ['[:find ?n ?a :where [?e {name} ?n] [?e {age} ?a]]', []],
  ['[:find [?c ...] :where [_ {city} ?c]]', []],
  ['[:find ?c (count ?e) :where [?e {city} ?c]]', []],
  ['[:find (count ?e) . :where [?e {name} _]]', []],
  ['[:find ?n :where [?e {name} ?n] (not [?e {city} _])]', []],
  ['[:find ?n :where [?e {name} ?n] (not [?e {friend} _])]', []],
  ['[:find ?l (count ?e) :where [?e {likes} ?l]]', []],
  ['[:find ?c (min ?a) (max ?a) :where [?e {city} ?c] [?e {age} ?a]]', []],
  ['[:find ?c (sum ?a) :with ?e :where [?e {city} ?c] [?e {age} ?a]]', []],
  ['[:find ?c (count-distinct ?a) :with ?e :where [?e {city} ?c] [?e {age} ?a]]', []],
  ['[:find ?c (median ?a) :with ?e :where [?e {city} ?c] [?e {age} ?a]]', []],
  ['[:find ?n1 ?n2 :where [?a {friend} ?b] [?b {friend} ?a] [?a {name} ?n1] [?b {name} ?n2]]', []],
  ['[:find (count ?b) . :in $ % :where [?a {name} "p0"] (reach ?a ?b)]', [rules]],
  ['[:find ?n (count ?b) :in $ % :where [?a {name} ?n] [?a {age} ?g] [(< ?g 15)] (reach ?a ?b)]', [rules]],
  ['[:find ?n :in $ [?c ...] :where [?e {city} ?c] [?e {name} ?n]]', [['Oslo', 'Lima']]],
  ['[:find ?n ?x :in $ [[?n ?x]] :where [?e {name} ?n]]', [[['p1', 1], ['p2', 2], ['zz', 3]]]],
  ['[:find ?n :where [?e {name} ?n] [?e {age} ?a] [(even? ?a)] [(> ?a 50)]]', []],
  ['[:find ?n ?s :where [?e {name} ?n] [?e {age} ?a] [(str ?n "-" ?a) ?s] [(< ?a 14)]]', []],
  ['[:find ?n :where [?e {name} ?n] [(get-else $ ?e {city} "none") ?c] [(= ?c "none")]]', []],
  ['[:find ?n :where [?e {name} ?n] [(missing? $ ?e {likes})]]', []],
  ['[:find ?n :where [?e {name} ?n] [?e {city} ?c] [(re-pattern "^[KL]") ?re] [(re-find ?re ?c)]]', []],
  ['[:find ?n :where [?e {name} ?n] (or-join [?e] (and [?e {friend} ?f] [?f {city} "Rome"]) [?e {age} 70])]', []],
  ['[:find ?n :where [?e {name} ?n] (not-join [?e] [?e {friend} ?f] [?f {likes} "tea"])]', []],
  ['[:find ?a ?b :where [?x {name} "p3"] [?x {age} ?a] [?y {name} "p4"] [?y {age} ?b]]', []],
  ['[:find ?n ?m :where [?e {name} ?n] [?e {age} ?a] [(* ?a 2) ?m] [(> ?m 130)]]', []],
  ['[:find (pull ?e [{name} {age} {city}]) :where [?e {age} ?a] [(> ?a 65)]]', []],
  ['[:find (count ?b) . :with ?a :in $ % :where (reach ?a ?b)]', [rules]],
  ['[:find ?x (count ?b) :in $ % :where (reach ?a ?b) [?a {name} ?x] [?a {age} ?g] [(> ?g 60)]]', [rules]],
  ['[:find (pull ?e [{name} {{friend} [{name} {likes}]}]) :where [?e {name} "p7"]]', []],
  ['[:find (pull ?e [{name} {{_friend} [{name}]}]) :where [?e {name} "p9"]]', []],
  ['[:find ?n (pull ?f [{name}]) :where [?e {name} ?n] [?e {friend} ?f] [?e {age} ?a] [(< ?a 13)]]', []],
];

function randomQuery() {
  const op = pick(OPS), c = int(10, 70), city = pick(CITIES), like = pick(LIKES), nm = 'p' + int(0, N - 1);
  switch (int(0, 21)) {
  case 0: return ['[:find ?n :where [?e {age} ?a] [(' + op + ' ?a ' + c + ')] [?e {name} ?n]]', []];
  case 1: return ['[:find ?n1 ?n2 :where [?x {friend} ?y] [?x {name} ?n1] [?y {name} ?n2] [?y {age} ?a] [(' + op + ' ?a ' + c + ')]]', []];
  case 2: return ['[:find ?n :where [?e {name} ?n] (not [?e {city} "' + city + '"])]', []];
  case 3: return ['[:find ?n :where [?e {name} ?n] (or [?e {city} "' + city + '"] [?e {likes} "' + like + '"])]', []];
  case 4: return ['[:find ?c (' + pick(['count', 'count-distinct', 'min', 'max', 'sum', 'median']) + ' ?a) :with ?e :where [?e {city} ?c] [?e {age} ?a] [(' + op + ' ?a ' + c + ')]]', []];
  case 5: return ['[:find ?n :in $ % :where [?s {name} "' + nm + '"] (reach ?s ?t) [?t {name} ?n]]', [rules]];
  case 6: return ['[:find ?n :where [?e {name} ?n] (not-join [?e] [?e {friend} ?f] [?f {city} "' + city + '"])]', []];
  case 7: return ['[:find ?n ?l :where [?e {likes} ?l] [?e {name} ?n] [?e {age} ?a] [(' + op + ' ?a ' + c + ')]]', []];
  case 8: return ['[:find ?n ?b :where [?e {name} ?n] [?e {age} ?a] [(+ ?a ' + int(-5, 5) + ') ?b] [(' + op + ' ?b ' + c + ')]]', []];
  case 9: return ['[:find ?n :where [?e {name} ?n] (or-join [?e] (and [?e {friend} ?f] [?f {likes} "' + like + '"]) [?e {city} "' + city + '"])]', []];
  case 10: return ['[:find ?n :where [?s {name} "' + nm + '"] [?s {friend} ?f] [?f {friend} ?g] [?g {name} ?n]]', []];
  case 11: return ['[:find ?l (count ?e) :where [?e {likes} ?l] [?e {city} "' + city + '"] [?e {age} ?a] [(' + op + ' ?a ' + c + ')]]', []];
  case 12: return ['[:find ?n1 ?n2 :where [?a {city} "' + city + '"] [?b {city} "' + city + '"] [?a {friend} ?b] [?a {name} ?n1] [?b {name} ?n2] (not [?b {likes} "' + like + '"])]', []];
  case 14: return ['[:find ?n :in $ % :where (likes-via ?e "' + like + '") [?e {name} ?n]]', ['[[(likes-via ?e ?l) [?e {likes} ?l]] [(likes-via ?e ?l) [?e {friend} ?f] [?f {likes} ?l] (not [?e {city} "' + city + '"])]]']];
  case 15: return ['[:find ?c (count-distinct ?f) :where [?e {city} ?c] [?e {friend} ?f] [?f {age} ?a] [(' + op + ' ?a ' + c + ')]]', []];
  case 16: return ['[:find ?n ?m :where [?e {name} ?n] [?e {friend} ?f] [?f {name} ?m] (or-join [?f] [?f {city} "' + city + '"] (and [?f {likes} "' + like + '"] [?f {age} ?a] [(' + op + ' ?a ' + c + ')]))]', []];
  case 17: return ['[:find [?n ...] :where [?e {name} ?n] (not-join [?e] [?e {friend} ?f] (not [?f {likes} "' + like + '"]))]', []];
  case 18: return ['[:find ?n (max ?a) (min ?a) :where [?e {name} ?n] [?e {friend} ?f] [?f {age} ?a]]', []];
  case 19: return ['[:find ?x ?y :in $ % :where [?a {name} "' + nm + '"] (reach ?a ?b) (reach ?b ?a) [?a {name} ?x] [?b {name} ?y]]', [rules]];
  case 20: return ['[:find ?x ?y :in $ % :where (reach ?a ?b) [?a {name} ?x] [?b {name} ?y] [?a {age} ?g] [(' + op + ' ?g ' + c + ')] [?b {city} "' + city + '"]]', [rules]];
  case 13: return ['[:find (pull ?e [{name} {age} {{friend} [{name} {city}]}]) :where [?e {age} ?a] [(' + op + ' ?a ' + c + ')] [?e {city} "' + city + '"]]', []];
  default: return ['[:find ?n :in $ % :where [?t {name} "' + nm + '"] (reach ?s ?t) [?s {name} ?n] [?s {age} ?a] [(' + op + ' ?a ' + c + ')]]', [rules]];
  }
}

// ---- comparison ---------------------------------------------------------------
function norm(v) {
  if (Array.isArray(v)) return v.map(norm);
  if (v && typeof v === 'object') {
    const o = {};
    for (const k of Object.keys(v).sort()) o[k.startsWith(':') ? k.slice(1) : k] = norm(v[k]);
    return o;
  }
  if (typeof v === 'string' && v.startsWith(':')) return v.slice(1);
  if (typeof v === 'number') return Math.round(v * 1e9) / 1e9;
  return v;
}
function asSet(res) {
  if (!Array.isArray(res)) return JSON.stringify(norm(res));
  return JSON.stringify([...new Set(res.map((r) => JSON.stringify(norm(r))))].sort());
}
const ednArg = (a) => (typeof a === 'string' ? render(a, false) : JSON.stringify(a).replace(/,/g, ' '));

const queries = fixed.concat(Array.from({ length: nrandom }, randomQuery));
let n = 0, failed = 0;
for (const [q, args] of queries) {
  n++;
  let want, got, err = null;
  const qds = render(q, true).replace(/#"/g, '"');
  const qdh = render(q, false).replace(/#"/g, '"');
  try {
    want = d.q(qds, db, ...args.map((a) => (typeof a === 'string' ? render(a, true) : a)));
  } catch (e) {
    err = 'datascript: ' + e.message;
  }
  if (!err) {
    try {
      const out = execFileSync('dh-query', ['-o', 'json', '--', uri, qdh, ...args.map(ednArg)], { stdio: ['ignore', 'pipe', 'pipe'] });
      got = JSON.parse(out.toString());
    } catch (e) {
      err = 'dh-query: ' + (e.stderr ? e.stderr.toString() : e.message);
    }
  }
  const ok = !err && asSet(want) === asSet(got);
  if (!ok) failed++;
  console.log((ok ? 'ok ' : 'not ok ') + n + ' - ' + qdh);
  if (!ok) {
    if (err) console.log('#   ' + err.trim().split('\n')[0]);
    else { console.log('#   datascript: ' + asSet(want).slice(0, 400)); console.log('#   dh:         ' + asSet(got).slice(0, 400)); }
  }
}
console.log('1..' + n);
process.exit(failed ? 1 : 0);
