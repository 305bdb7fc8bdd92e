"""Sanity checks for eval/heldout3.jsonl against corpus/papers.txt.

Run: python3 eval/check_heldout3.py   (exit code 0 = all checks passed)
"""
import json, random, re, sys
from collections import Counter

from corpus_pairs import ROOT, load

titles, abstract_list = load()
abstracts = dict(zip(titles, abstract_list))
assert len(abstracts) == len(titles) == 261
corpus_lc = '\n'.join(t + '\n' + a for t, a in abstracts.items()).lower()

SEED = 31337
N_FACTOID, N_WHICH, N_MULTI = 10, 8, 6
N_UNANS = {'not_covered': 10, 'missing_detail': 8, 'off_topic': 6}

# Key terms of the unanswerable questions: (type, where, terms).
# where = None -> terms must be absent from the whole corpus (titles + abstracts);
# where = title -> terms must be absent from that paper's title + abstract.
# At least one term must occur in the question itself.
ABSENT = {
    'm025': ('not_covered', None, ['mixup', 'cutmix', 'mix-up']),
    'm026': ('not_covered', None, ['node2vec', 'deepwalk', 'random walk', 'skip-gram']),
    'm027': ('not_covered', None, ['gptq', 'hessian', 'optimal brain']),
    'm028': ('not_covered', None, ['consistency model', 'single-step', 'one-step']),
    'm029': ('not_covered', None, ['rotary', 'rope']),
    'm030': ('not_covered', None, ['membership inference', 'shadow model']),
    'm031': ('not_covered', None, ['randomized smoothing', 'certif']),
    'm032': ('not_covered', None, ['style transfer', 'gram matri']),
    'm033': ('not_covered', None, ['checkpointing', 'recomput', 'rematerializ']),
    'm034': ('not_covered', None, ['patchtst', 'channel-indep']),
    'm035': ('missing_detail', 'Structure Learning for Neural Module Networks',
             ['clevr', 'accuracy', 'vqa v2', 'percent']),
    'm036': ('missing_detail', 'UniPlane: Unified Plane Detection and Reconstruction from Posed Monocular Videos',
             ['frames per second', 'fps', 'real time', 'real-time', 'runtime', 'latency']),
    'm037': ('missing_detail', 'Towards Better Graph Representation Learning with Parameterized Decomposition & Filtering',
             ['cora', 'pubmed', 'citeseer', 'citation', 'ogb']),
    'm038': ('missing_detail', 'On the Benefits of Biophysical Synapses',
             ['university', 'institute', 'affiliat']),
    'm039': ('missing_detail', 'USAGE: A Unified Seed Area Generation Paradigm for Weakly Supervised Semantic Segmentation',
             ['resnet', 'vit', 'backbone', 'deit']),
    'm040': ('missing_detail', 'Neural Redshift: Random Networks are not Random Functions',
             ['lempel', 'ziv', 'compression', 'fourier', 'spectr']),
    'm041': ('missing_detail', 'DiMSUM: Diffusion Mamba -- A Scalable and Unified Spatial-Frequency Method for Image Generation',
             ['fid', 'imagenet', 'celeba', 'lsun']),
    'm042': ('missing_detail', 'FNeVR: Neural Volume Rendering for Face Animation',
             ['gpu', 'hours', 'training time', 'days']),
    'm043': ('off_topic', None, ['photosynth', 'chlorophyll', 'plants']),
    'm044': ('off_topic', None, ['mozart', 'magic flute', 'premiere']),
    'm045': ('off_topic', None, ['magna carta', '1215', 'english law']),
    'm046': ('off_topic', None, ['volcano', 'magma', 'erupt']),
    'm047': ('off_topic', None, ['jupiter', 'ganymede']),
    'm048': ('off_topic', None, ['boil', 'altitude']),
}
# Topics used by earlier sets: must not be the subject of any question here.
BANNED = ['federated', 'speculative decoding', 'differential privacy', 'differentially private',
          'watermark', 'lora', 'low-rank adaptation', 'retrieval-augmented', 'rag', 'rlhf',
          'human feedback', 'word2vec', 'alphago', 'flashattention', 'detr', 'chain-of-thought',
          'chain of thought', 'sim-to-real', 'bayesian optimi', 'everest', 'pride and prejudice',
          'berlin wall', 'canberra', 'sourdough', 'world cup', 'tides', 'mona lisa',
          'grokking', 'neural collapse', 'kolmogorov', 'continual learning', 'universal domain adaptation']


def term_re(term):
    # left word boundary always; right boundary too for numbers and short terms
    full = term.isdigit() or len(term) <= 4
    return r'(?<![a-z0-9])' + re.escape(term) + (r'(?![a-z0-9])' if full else '')


def has(term, text):
    return re.search(term_re(term.lower()), text.lower()) is not None


def words(s):
    return re.findall(r'\w+', s.lower())


def grams5(ws):
    return {tuple(ws[i:i + 5]) for i in range(len(ws) - 4)}


KINDS = {'factoid', 'which_paper', 'multi', 'unanswerable'}
KEYS = ['qid', 'kind', 'question', 'gold_titles', 'also_relevant', 'answer_facts']
errs = []
qs = [json.loads(l) for l in open(f'{ROOT}/eval/heldout3.jsonl') if l.strip()]
utypes = Counter()
for n, q in enumerate(qs, 1):
    qid = q.get('qid')
    if list(q) != KEYS: errs.append(f'{qid}: keys {list(q)}')
    if qid != f'm{n:03d}': errs.append(f'{qid}: bad qid order (want m{n:03d})')
    k = q['kind']
    if k not in KINDS: errs.append(f'{qid}: kind {k}')
    for t in q['gold_titles'] + q['also_relevant']:
        if t not in abstracts: errs.append(f'{qid}: title not in corpus: {t!r}')
    if set(q['gold_titles']) & set(q['also_relevant']): errs.append(f'{qid}: title both gold and also_relevant')
    if len(set(q['gold_titles'])) != len(q['gold_titles']): errs.append(f'{qid}: duplicate gold title')
    for b in BANNED:
        if has(b, q['question']): errs.append(f'{qid}: banned topic {b!r} in question')
    if k in ('factoid', 'which_paper', 'multi'):
        if k in ('factoid', 'which_paper') and len(q['gold_titles']) != 1:
            errs.append(f'{qid}: {k} needs exactly 1 gold title')
        if k == 'multi' and not 2 <= len(q['gold_titles']) <= 4:
            errs.append(f'{qid}: multi needs 2-4 gold titles')
        if k == 'factoid' and not q['answer_facts']: errs.append(f'{qid}: factoid without facts')
        gold_text = ' '.join(abstracts.get(t, '') for t in q['gold_titles']).lower()
        for fact in q['answer_facts']:
            alts = [a.strip() for a in fact.split(' | ')]
            if not any(a and a.lower() in gold_text for a in alts):
                errs.append(f'{qid}: fact {fact!r} not in gold abstract(s)')
        if qid in ABSENT: errs.append(f'{qid}: answerable question has absent-term entry')
    else:
        if q['gold_titles'] or q['answer_facts']: errs.append(f'{qid}: unanswerable must have empty gold/facts')
        if qid not in ABSENT:
            errs.append(f'{qid}: no absent-term entry'); continue
        typ, where, terms = ABSENT[qid]
        utypes[typ] += 1
        if where is None:
            if q['also_relevant']: errs.append(f'{qid}: {typ} should have empty also_relevant')
            text = corpus_lc
        else:
            if q['also_relevant'] != [where]: errs.append(f'{qid}: also_relevant should be [{where!r}]')
            text = (where + '\n' + abstracts.get(where, '')).lower()
        for term in terms:
            if has(term, text):
                errs.append(f'{qid}: term {term!r} found in {"corpus" if where is None else where}')
        if not any(has(term, q['question']) for term in terms):
            errs.append(f'{qid}: none of the key terms occurs in the question')
    # paraphrase check: no 5-word run shared with any gold/also_relevant title or abstract
    g = grams5(words(q['question']))
    for t in q['gold_titles'] + q['also_relevant']:
        shared = g & grams5(words(t + ' ' + abstracts.get(t, '')))
        if shared: errs.append(f'{qid}: copied phrase {[" ".join(s) for s in shared]} from {t!r}')

# counts
counts = Counter(q['kind'] for q in qs)
want = {'factoid': N_FACTOID, 'which_paper': N_WHICH, 'multi': N_MULTI, 'unanswerable': sum(N_UNANS.values())}
if dict(counts) != want: errs.append(f'counts {dict(counts)} != {want}')
if dict(utypes) != N_UNANS: errs.append(f'unanswerable types {dict(utypes)} != {N_UNANS}')
extra = set(ABSENT) - {q['qid'] for q in qs if q['kind'] == 'unanswerable'}
if extra: errs.append(f'ABSENT has entries for non-unanswerable qids: {sorted(extra)}')

# provenance: gold papers of factoid/which_paper and missing-detail papers come from the seeded draws
rng = random.Random(SEED)
draw = rng.sample(range(len(titles)), N_FACTOID + N_WHICH)
rest = [i for i in range(len(titles)) if i not in draw]
draw_md = rng.sample(rest, N_UNANS['missing_detail'])
fw = [q['gold_titles'][0] for q in qs if q['kind'] in ('factoid', 'which_paper') and q['gold_titles']]
if fw != [titles[i] for i in draw]: errs.append('factoid/which_paper gold papers do not follow the seeded draw')
if [q['kind'] for q in qs if q['kind'] in ('factoid', 'which_paper')] != ['factoid'] * N_FACTOID + ['which_paper'] * N_WHICH:
    errs.append('factoid questions must precede which_paper questions')
md = [ABSENT[q['qid']][1] for q in qs if q['qid'] in ABSENT and ABSENT[q['qid']][0] == 'missing_detail']
if md != [titles[i] for i in draw_md]: errs.append('missing-detail papers do not follow the seeded draw')

print(dict(counts), dict(utypes))
print('\n'.join(errs) or 'all checks passed')
sys.exit(1 if errs else 0)
