"""Checker for heldout4.jsonl (plain python3). Exits 0 only if every check passes."""
import json
import os
import random
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from corpus_pairs import ROOT, load  # noqa: E402

PATH = f'{ROOT}/eval/heldout4.jsonl'
SEED = 4242
KEYS = ["qid", "kind", "question", "gold_titles", "also_relevant", "answer_facts"]
KIND_COUNTS = {'factoid': 10, 'which_paper': 8, 'multi': 6, 'unanswerable': 24}
TYPE_COUNTS = {'not_covered': 10, 'missing_detail': 8, 'off_topic': 6}

titles, abstracts = load()
TITLE_IDX = {t: i for i, t in enumerate(titles)}

# qid -> (type, title of the paper the question is about or None, [key terms])
UNANSWERABLE = {
    'n025': ('not_covered', None, ['Shampoo']),
    'n026': ('not_covered', None, ['normalizing flow', 'RealNVP']),
    'n027': ('not_covered', None, ['label smoothing', 'calibration']),
    'n028': ('not_covered', None, ['capsule', 'dynamic routing']),
    'n029': ('not_covered', None, ['adjoint', 'neural ODE']),
    'n030': ('not_covered', None, ['sharpness-aware', 'sharpness']),
    'n031': ('not_covered', None, ['Hopfield']),
    'n032': ('not_covered', None, ['echo state', 'reservoir computing']),
    'n033': ('not_covered', None, ['XGBoost', 'tabular']),
    'n034': ('not_covered', None, ['conformal']),
    'n035': ('missing_detail', titles[39], ['GPU', 'wall-clock']),
    'n036': ('missing_detail', titles[49], ['backbone', 'ResNet', 'ViT']),
    'n037': ('missing_detail', titles[95], ['ADM', 'Stable Diffusion', 'checkpoint']),
    'n038': ('missing_detail', titles[34], ['GPU', 'Titan', 'graphics card']),
    'n039': ('missing_detail', titles[46], ['license', 'MIT', 'Apache']),
    'n040': ('missing_detail', titles[195], ['authors', 'conference']),
    'n041': ('missing_detail', titles[65], ['bit-width', 'INT8', 'INT4']),
    'n042': ('missing_detail', titles[235], ['parameters', 'epochs']),
    'n043': ('off_topic', None, ['Mongolia', 'Ulaanbaatar']),
    'n044': ('off_topic', None, ['Starry Night', 'Van Gogh']),
    'n045': ('off_topic', None, ['Titanic']),
    'n046': ('off_topic', None, ['miso']),
    'n047': ('off_topic', None, ['speed of sound']),
    'n048': ('off_topic', None, ['chess', 'Sicilian']),
}

# regexes (case-insensitive) for topics used by earlier sets: none may appear in any question
BANNED = [
    r'federated', r'speculative decoding', r'differential(ly)? privacy', r'differentially private',
    r'watermark', r'\blora\b', r'low[- ]rank', r'retrieval[- ]augmented', r'\brag\b', r'\brlhf\b',
    r'human feedback', r'word2vec', r'alphago', r'\bmcts\b', r'monte[- ]carlo tree', r'flash[- ]?attention',
    r'\bdetr\b', r'chain[- ]of[- ]thought', r'sim[- ]to[- ]real', r'bayesian optimi[sz]', r'\bmixup\b',
    r'\bcutmix\b', r'node2vec', r'deepwalk', r'\bgptq\b', r'hessian', r'consistency models?\b',
    r'\brotary\b', r'\brope\b', r'membership inference', r'randomi[sz]ed smoothing', r'style transfer',
    r'gradient checkpointing', r'patchtst', r'everest', r'pride and prejudice', r'berlin wall',
    r'canberra', r'sourdough', r'world cup', r'\btides?\b', r'\btidal\b', r'mona lisa', r'photosynthe',
    r'mozart', r'magna carta', r'volcan', r'jupiter', r'boiling point',
]
BANNED_MULTI = [r'grokk', r'\bgrok\b', r'neural collapse', r'kolmogorov', r'\bkans?\b',
                r'continual learning', r'universal domain adaptation']

errors = []


def err(msg):
    errors.append(msg)


def words(s):
    return re.findall(r'[a-z0-9]+', s.lower())


def ngrams(s, n=5):
    w = words(s)
    return {tuple(w[i:i + n]) for i in range(len(w) - n + 1)}


def term_in(term, text):
    return re.search(r'(?<![a-z0-9])' + re.escape(term.lower()) + r'(?![a-z0-9])', text.lower()) is not None


rows = [json.loads(line) for line in open(PATH, encoding='utf-8') if line.strip()]
if len(rows) != 48:
    err(f'expected 48 rows, got {len(rows)}')

for k, r in enumerate(rows, 1):
    if list(r.keys()) != KEYS:
        err(f'row {k}: keys {list(r.keys())}')
    if r.get('qid') != 'n%03d' % k:
        err(f'row {k}: qid {r.get("qid")}')

kinds = {}
for r in rows:
    kinds[r['kind']] = kinds.get(r['kind'], 0) + 1
if kinds != KIND_COUNTS:
    err(f'kind counts {kinds}')

# seeded draws
rng = random.Random(SEED)
drawn = rng.sample(range(261), 18)
rest = [i for i in range(261) if i not in drawn]
missing = rng.sample(rest, 8)
fact_gold = [r['gold_titles'] for r in rows if r['kind'] == 'factoid']
wp_gold = [r['gold_titles'] for r in rows if r['kind'] == 'which_paper']
if fact_gold != [[titles[i]] for i in drawn[:10]]:
    err('factoid gold papers do not follow the seeded draw')
if wp_gold != [[titles[i]] for i in drawn[10:]]:
    err('which_paper gold papers do not follow the seeded draw')

types = {}
md_papers = []
for r in rows:
    qid, kind, q = r['qid'], r['kind'], r['question']
    gold, also, facts = r['gold_titles'], r['also_relevant'], r['answer_facts']
    for tl in gold + also:
        if tl not in TITLE_IDX:
            err(f'{qid}: not a corpus title: {tl!r}')
    if set(gold) & set(also) or len(set(gold)) != len(gold):
        err(f'{qid}: duplicate titles in gold/also_relevant')
    # counts of gold papers
    if kind in ('factoid', 'which_paper') and len(gold) != 1:
        err(f'{qid}: needs exactly one gold paper')
    if kind == 'multi' and not 2 <= len(gold) <= 4:
        err(f'{qid}: multi needs 2-4 gold papers')
    if kind == 'unanswerable':
        if gold or facts:
            err(f'{qid}: unanswerable must have empty gold_titles and answer_facts')
    else:
        if not 1 <= len(facts) <= 3:
            err(f'{qid}: needs 1-3 answer facts')
        gold_abs = [abstracts[TITLE_IDX[tl]].lower() for tl in gold if tl in TITLE_IDX]
        for f in facts:
            for alt in f.split(' | '):
                if not alt.strip() or not any(alt.strip().lower() in ab for ab in gold_abs):
                    err(f'{qid}: fact {alt!r} not in a gold abstract')
    # no 5-word run shared with gold / also_relevant title or abstract
    qg = ngrams(q)
    for tl in gold + also:
        if tl in TITLE_IDX:
            i = TITLE_IDX[tl]
            shared = qg & (ngrams(titles[i]) | ngrams(abstracts[i]))
            if shared:
                err(f'{qid}: shares 5-word run with paper {i}: {sorted(shared)[0]}')
    # banned topics
    for pat in BANNED + (BANNED_MULTI if kind == 'multi' else []):
        if re.search(pat, q, re.I):
            err(f'{qid}: banned topic /{pat}/ in question')
    # unanswerable bookkeeping
    if kind == 'unanswerable':
        if qid not in UNANSWERABLE:
            err(f'{qid}: no key-term entry')
            continue
        typ, paper, terms = UNANSWERABLE[qid]
        types[typ] = types.get(typ, 0) + 1
        if not terms or not any(term_in(tm, q) for tm in terms):
            err(f'{qid}: none of its key terms occurs in the question')
        if typ == 'missing_detail':
            md_papers.append(paper)
            if also != [paper]:
                err(f'{qid}: also_relevant must list exactly the paper asked about')
            i = TITLE_IDX.get(paper)
            if i is None:
                err(f'{qid}: missing-detail paper not in corpus')
                continue
            scope = titles[i] + '\n' + abstracts[i]
        else:
            if paper is not None:
                err(f'{qid}: only missing-detail entries name a paper')
            scope = '\n'.join(titles + abstracts)
        for tm in terms:
            if term_in(tm, scope):
                err(f'{qid}: key term {tm!r} occurs in the corpus scope')
    elif qid in UNANSWERABLE:
        err(f'{qid}: key-term entry for an answerable question')

if types != TYPE_COUNTS:
    err(f'unanswerable type counts {types}')
if md_papers != [titles[i] for i in missing]:
    err('missing-detail papers do not follow the seeded draw')
if set(UNANSWERABLE) != {r['qid'] for r in rows if r['kind'] == 'unanswerable'}:
    err('key-term dict does not match the unanswerable qids')

if errors:
    print('\n'.join(errors))
    print(f'FAIL: {len(errors)} problem(s)')
    sys.exit(1)
print(f'OK: {len(rows)} questions, kinds {kinds}, unanswerable types {types}, seed {SEED}')
