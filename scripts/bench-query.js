// bench-query.js - DataScript's own query benchmarks on DataScript (npm),
// and the data they run on, for scripts/bench-query.
//
//   node bench-query.js gen DIR     write DIR/schema.edn, DIR/people.edn, DIR/follows.edn
//   node bench-query.js run DIR     time every benchmark on DataScript (warm), print "name ms"
//
// The data follows DataScript's benchmark: 20,000 people with a random
// first name (8 choices), last name (6), sex, age (0-9) and salary
// (0-99,999), plus a tree of :follows refs for the rule benchmark.
'use strict';
const fs = require('fs');
const path = require('path');

let seed = 42;
function rnd() { seed ^= seed << 13; seed >>>= 0; seed ^= seed >>> 17; seed ^= seed << 5; seed >>>= 0; return seed / 4294967296; }
const pick = (a) => a[Math.floor(rnd() * a.length)];
const NAMES = ['Ivan', 'Petr', 'Sergei', 'Oleg', 'Yuri', 'Dmitry', 'Fedor', 'Denis'];
const LAST = ['Ivanov', 'Petrov', 'Sidorov', 'Kovalev', 'Kuznetsov', 'Voronoi'];
const N = 20000;
const people = [];
for (let i = 0; i < N; i++)
  people.push({ name: pick(NAMES), last: pick(LAST), sex: pick(['male', 'female']), age: Math.floor(rnd() * 10), salary: Math.floor(rnd() * 100000) });
// a tree of follows: node k follows its children 4k+1 .. 4k+4 (depth 5 from the root)
const TREE = 1365;

const benches = {
  q1: ['[:find ?e :where [?e :name "Ivan"]]', []],
  q2: ['[:find ?e ?a :where [?e :name "Ivan"] [?e :age ?a]]', []],
  q3: ['[:find ?e ?a :where [?e :name "Ivan"] [?e :age ?a] [?e :sex :male]]', []],
  q4: ['[:find ?e ?l ?a :where [?e :name "Ivan"] [?e :last-name ?l] [?e :age ?a] [?e :sex :male]]', []],
  qpred1: ['[:find ?e ?s :where [?e :salary ?s] [(> ?s 50000)]]', []],
  qpred2: ['[:find ?e ?s :in $ ?min_s :where [?e :salary ?s] [(> ?s ?min_s)]]', [50000]],
  rules: ['[:find ?e1 ?e2 :in $ % :where (follows ?e1 ?e2)]',
          ['[[(follows ?x ?y) [?x :follows ?y]] [(follows ?x ?y) [?x :follows ?t] (follows ?t ?y)]]']],
};

function gen(dir) {
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'schema.edn'), '[' +
    '{:db/ident :name :db/valueType :db.type/string :db/cardinality :db.cardinality/one :db/index true}\n' +
    '{:db/ident :last-name :db/valueType :db.type/string :db/cardinality :db.cardinality/one}\n' +
    '{:db/ident :sex :db/valueType :db.type/keyword :db/cardinality :db.cardinality/one}\n' +
    '{:db/ident :age :db/valueType :db.type/long :db/cardinality :db.cardinality/one}\n' +
    '{:db/ident :salary :db/valueType :db.type/long :db/cardinality :db.cardinality/one}\n' +
    '{:db/ident :follows :db/valueType :db.type/ref :db/cardinality :db.cardinality/many}]\n');
  fs.writeFileSync(path.join(dir, 'people.edn'), '[' + people.map((p) =>
    `{:name "${p.name}" :last-name "${p.last}" :sex :${p.sex} :age ${p.age} :salary ${p.salary}}`).join('\n') + ']\n');
  const t = [];
  for (let k = 0; k < TREE; k++) {
    const kids = [];
    for (let c = 4 * k + 1; c <= 4 * k + 4 && c < TREE; c++) kids.push(`"t${c}"`);
    t.push(`{:db/id "t${k}" :name "t${k}"` + (kids.length ? ` :follows [${kids.join(' ')}]` : '') + '}');
  }
  fs.writeFileSync(path.join(dir, 'follows.edn'), '[' + t.join('\n') + ']\n');
  fs.writeFileSync(path.join(dir, 'benches.json'), JSON.stringify(benches));
}

function time(fn) {
  // warm up, then run for at least 1 s (and 5 times), report the mean
  for (let i = 0; i < 3; i++) fn();
  let n = 0;
  const t0 = process.hrtime.bigint();
  let t = t0;
  while (n < 5 || t - t0 < 1000000000n) { fn(); n++; t = process.hrtime.bigint(); }
  return Number(t - t0) / 1e6 / n;
}

function run() {
  const d = require('datascript');
  const schema = { follows: { ':db/valueType': ':db.type/ref', ':db/cardinality': ':db.cardinality/many' },
                   name: { ':db/index': true } };
  let db = d.empty_db(schema);
  db = d.db_with(db, people.map((p, i) => ({ ':db/id': -(i + 1), name: p.name, 'last-name': p.last, sex: p.sex, age: p.age, salary: p.salary })));
  const tree = [];
  for (let k = 0; k < TREE; k++) {
    const e = { ':db/id': -(k + 1), name: 't' + k };
    const kids = [];
    for (let c = 4 * k + 1; c <= 4 * k + 4 && c < TREE; c++) kids.push(-(c + 1));
    if (kids.length) e.follows = kids;
    tree.push(e);
  }
  db = d.db_with(db, tree);
  const ds = (q) => q.replace(/:(name|last-name|sex|age|salary|follows)\b/g, '"$1"').replace(/"sex" :male/, '"sex" "male"');
  for (const [name, [q, args]] of Object.entries(benches)) {
    const qq = ds(q);
    const a = args.map((x) => (typeof x === 'string' ? ds(x) : x));
    const rows = d.q(qq, db, ...a).length;
    console.log(name + ' ' + time(() => d.q(qq, db, ...a)).toFixed(3) + ' ' + rows);
  }
  const ids = d.q('[:find [?e ...] :where [?e "salary" _]]', db).slice(0, 1000);
  const pat = '["name" "last-name" "age" "sex"]';
  console.log('pull ' + time(() => d.pull_many(db, pat, ids)).toFixed(3) + ' ' + ids.length);
}

if (process.argv[2] === 'gen') gen(process.argv[3]);
else if (process.argv[2] === 'run') run();
else { console.error('usage: bench-query.js gen DIR | run DIR'); process.exit(2); }
