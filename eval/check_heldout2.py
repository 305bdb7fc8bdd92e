"""Sanity checks for eval/heldout2.jsonl against corpus/papers.txt.

Run: python3 eval/check_heldout2.py   (exit code 0 = all checks passed)
"""
import json, re, sys
from collections import Counter

from corpus_pairs import ROOT, load

titles, abstract_list = load()
abstracts = dict(zip(titles, abstract_list))
assert len(abstracts) == len(titles) == 261
corpus_lc = '\n'.join(t + '\n' + a for t, a in abstracts.items()).lower()

# Key terms of unanswerable questions, matched case-insensitively as whole words
# (no letter/digit right before or after).
#   'absent'  = not-covered ML/CS topic: terms absent from the whole corpus
#   'offtopic'= general-knowledge question: terms absent from the whole corpus
#   'detail'  = detail missing from one paper (its title is in also_relevant):
#               terms absent from that paper's abstract (checked by reading too)
ABSENT = {
    'k027': ('absent', ['lora', 'low-rank adaptation']),
    'k028': ('absent', ['retrieval-augmented', 'retrieval augmented', 'rag']),
    'k029': ('absent', ['rlhf', 'human feedback', 'reward model', 'reward models']),
    'k030': ('absent', ['word2vec', 'skip-gram', 'negative sampling', 'word vectors', 'word embeddings']),
    'k031': ('absent', ['alphago', 'alphazero', 'monte carlo tree search', 'mcts']),
    'k032': ('absent', ['flashattention', 'flash attention', 'io-aware']),
    'k033': ('absent', ['detr', 'detection transformer', 'hungarian']),
    'k034': ('absent', ['chain-of-thought', 'chain of thought', 'step-by-step']),
    'k035': ('absent', ['domain randomization', 'sim-to-real', 'sim2real', 'grasp', 'grasping']),
    'k036': ('absent', ['bayesian optimization', 'acquisition function', 'acquisition functions',
                        'expected improvement']),
    'k037': ('detail', ['gpu', 'gpus', 'hardware', 'nvidia', 'a100', 'v100', 'tpu']),
    'k038': ('detail', ['learning rate', 'epoch', 'epochs', 'sgd', 'optimizer']),
    'k039': ('detail', ['cora', 'citeseer', 'pubmed', 'proteins', 'enzymes', 'flickr', 'bzr', 'cox2', 'ogb']),
    'k040': ('detail', ['university', 'institute', 'laboratory', 'author']),
    'k041': ('detail', ['lm1b', 'wikitext', 'penn treebank', 'ptb', 'corpus', 'tokens']),
    'k042': ('detail', ['mujoco', 'gym', 'hopper', 'walker', 'halfcheetah', 'humanoid', 'ant', 'atari']),
    'k043': ('detail', ['hours', 'minutes', 'seconds', 'gpu', 'runtime']),
    'k044': ('detail', ['colorization', 'exemplar', 'relative position', 'motion segmentation',
                        'jigsaw', 'rotation', 'context prediction']),
    'k045': ('offtopic', ['berlin', 'berlin wall', '1989']),
    'k046': ('offtopic', ['australia', 'canberra']),
    'k047': ('offtopic', ['sourdough', 'yeast', 'flour', 'starter', 'bake']),
    'k048': ('offtopic', ['fifa', 'world cup', 'football', 'soccer']),
    'k049': ('offtopic', ['tide', 'tides', 'tidal', 'lunar']),
    'k050': ('offtopic', ['mona lisa', 'leonardo', 'da vinci', 'louvre']),
}
WANT = {'factoid': 12, 'which_paper': 8, 'multi': 6, 'unanswerable': 24}
WANT_TYPES = {'absent': 10, 'detail': 8, 'offtopic': 6}
KEYS = ['qid', 'kind', 'question', 'gold_titles', 'also_relevant', 'answer_facts']


def has_term(term, text):
    return re.search(r'(?<![a-z0-9])' + re.escape(term.lower()) + r'(?![a-z0-9])', text) is not None


def fivegrams(text):
    w = re.findall(r'\w+', text.lower())
    return {tuple(w[i:i + 5]) for i in range(len(w) - 4)}


errs = []
qs = [json.loads(l) for l in open(f'{ROOT}/eval/heldout2.jsonl') if l.strip()]
for n, q in enumerate(qs, 1):
    qid = q.get('qid')
    if list(q) != KEYS: errs.append(f'{qid}: keys {list(q)}')
    if qid != f'k{n:03d}': errs.append(f'{qid}: bad qid order')
    k = q['kind']
    if k not in WANT: errs.append(f'{qid}: kind {k}')
    if not isinstance(q['question'], str) or not q['question'].strip(): errs.append(f'{qid}: empty question')
    for t in q['gold_titles'] + q['also_relevant']:
        if t not in abstracts: errs.append(f'{qid}: title not in corpus: {t!r}')
    if set(q['gold_titles']) & set(q['also_relevant']): errs.append(f'{qid}: title both gold and also_relevant')
    if k in ('factoid', 'which_paper', 'multi'):
        ng = len(q['gold_titles'])
        if k in ('factoid', 'which_paper') and ng != 1: errs.append(f'{qid}: {k} needs 1 gold title')
        if k == 'multi' and not 2 <= ng <= 4: errs.append(f'{qid}: multi needs 2-4 gold titles')
        nf = len(q['answer_facts'])
        if (k == 'factoid' and not 1 <= nf <= 2) or (k == 'multi' and not 1 <= nf <= 3) or (k == 'which_paper' and nf > 2):
            errs.append(f'{qid}: {nf} answer_facts for {k}')
        gold_text = ' '.join(abstracts.get(t, '') for t in q['gold_titles']).lower()
        for fact in q['answer_facts']:
            alts = [a.strip() for a in fact.split(' | ')]
            if not any(a and a.lower() in gold_text for a in alts):
                errs.append(f'{qid}: fact {fact!r} not in gold abstract(s)')
        if qid in ABSENT: errs.append(f'{qid}: answerable question has absent-term entry')
    else:
        if q['gold_titles'] or q['answer_facts']: errs.append(f'{qid}: unanswerable must have no gold/facts')
        if qid not in ABSENT:
            errs.append(f'{qid}: no absent-term entry')
        else:
            typ, terms = ABSENT[qid]
            if typ == 'detail':
                if len(q['also_relevant']) != 1:
                    errs.append(f'{qid}: detail question needs exactly one also_relevant paper')
                    continue
                where = q['also_relevant'][0]
                text = abstracts.get(where, '').lower()
            else:
                if q['also_relevant']: errs.append(f'{qid}: {typ} question should have no also_relevant')
                where, text = None, corpus_lc
                if not any(has_term(term, q['question'].lower()) for term in terms):
                    errs.append(f'{qid}: none of its key terms occurs in the question')
            for term in terms:
                if has_term(term, text):
                    errs.append(f'{qid}: term {term!r} found in {"corpus" if where is None else where!r}')
    # paraphrase check: no 5-word run shared with a gold (or also_relevant) title/abstract
    grams = fivegrams(q['question'])
    for t in q['gold_titles'] + q['also_relevant']:
        shared = grams & fivegrams(t + ' . ' + abstracts.get(t, ''))
        if shared: errs.append(f'{qid}: copied phrase {[" ".join(s) for s in shared]} from {t[:50]!r}')

counts = Counter(q['kind'] for q in qs)
if dict(counts) != WANT: errs.append(f'counts {dict(counts)} != {WANT}')
types = Counter(ABSENT[q['qid']][0] for q in qs if q['kind'] == 'unanswerable' and q['qid'] in ABSENT)
if dict(types) != WANT_TYPES: errs.append(f'unanswerable types {dict(types)} != {WANT_TYPES}')
if len({q['question'] for q in qs}) != len(qs): errs.append('duplicate questions')
print(dict(counts), dict(types))
print('\n'.join(errs) or 'all checks passed')
sys.exit(1 if errs else 0)
