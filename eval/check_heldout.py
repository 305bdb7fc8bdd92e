"""Sanity checks for eval/heldout.jsonl against corpus/papers.txt."""
import json, re, sys
from collections import Counter
from corpus_pairs import ROOT, load

titles, abstract_list = load()
abstracts = dict(zip(titles, abstract_list))
assert len(abstracts) == len(titles)
corpus_lc = '\n'.join(t + '\n' + a for t, a in abstracts.items()).lower()

# Key terms of unanswerable questions: must not appear where claimed
# (None = anywhere in the corpus, a title = in that paper's abstract).
ABSENT = {
    'h023': (None, ['federated', 'fedavg', 'non-iid', 'clients']),
    'h024': (None, ['speculative', 'draft model']),
    'h025': (None, ['dp-sgd', 'differential privacy', 'differentially private']),
    'h026': (None, ['watermark']),
    'h027': ('Neural Turing Machines', ['memory location', 'locations', 'lstm', 'feedforward', 'feed-forward', 'controller', '128', '20']),
    'h028': ('Unsupervised Representation Learning with Deep Convolutional Generative Adversarial Networks', ['learning rate', 'batch', 'adam', '0.0002', '128']),
    'h029': (None, ['austen', 'pride and prejudice', 'bennet']),
    'h030': (None, ['everest', 'mountain']),
}
KINDS = {'factoid', 'which_paper', 'multi', 'unanswerable'}
errs = []
qs = [json.loads(l) for l in open(f'{ROOT}/eval/heldout.jsonl')]
for n, q in enumerate(qs, 1):
    qid = q['qid']
    if list(q) != ['qid', 'kind', 'question', 'gold_titles', 'also_relevant', 'answer_facts']:
        errs.append(f'{qid}: keys {list(q)}')
    if qid != f'h{n:03d}': errs.append(f'{qid}: bad qid order')
    if q['kind'] not in KINDS: errs.append(f'{qid}: kind {q["kind"]}')
    for t in q['gold_titles'] + q['also_relevant']:
        if t not in abstracts: errs.append(f'{qid}: title not in corpus: {t!r}')
    k = q['kind']
    if k == 'factoid':
        if len(q['gold_titles']) != 1 or not q['answer_facts']: errs.append(f'{qid}: factoid shape')
        gold_text = ' '.join(abstracts.get(t, '') for t in q['gold_titles']).lower()
        for fact in q['answer_facts']:
            alts = [a.strip() for a in fact.split(' | ')]
            if not any(a.lower() in gold_text for a in alts):
                errs.append(f'{qid}: fact {fact!r} not in gold abstract')
    elif k == 'which_paper':
        if len(q['gold_titles']) != 1 or q['answer_facts']: errs.append(f'{qid}: which_paper shape')
    elif k == 'multi':
        if not 2 <= len(q['gold_titles']) <= 4 or q['answer_facts']: errs.append(f'{qid}: multi shape')
    else:
        if q['gold_titles'] or q['answer_facts']: errs.append(f'{qid}: unanswerable shape')
        if qid not in ABSENT: errs.append(f'{qid}: no absent-term check')
        else:
            where, terms = ABSENT[qid]
            text = corpus_lc if where is None else abstracts[where].lower()
            for term in terms:
                if re.search(r'(?<![\w.])' + re.escape(term) + r'(?![\w])' if term.isdigit() else re.escape(term), text):
                    errs.append(f'{qid}: term {term!r} found in {"corpus" if where is None else where}')
    # paraphrase check: no 5-word run copied from a gold title/abstract
    qw = re.findall(r'\w+', q['question'].lower())
    grams = {tuple(qw[i:i+5]) for i in range(len(qw) - 4)}
    for t in q['gold_titles']:
        tw = re.findall(r'\w+', (t + ' ' + abstracts.get(t, '')).lower())
        shared = grams & {tuple(tw[i:i+5]) for i in range(len(tw) - 4)}
        if shared: errs.append(f'{qid}: copied phrase {[" ".join(s) for s in shared]}')
counts = Counter(q['kind'] for q in qs)
want = {'factoid': 10, 'which_paper': 7, 'multi': 5, 'unanswerable': 8}
if counts != want: errs.append(f'counts {dict(counts)} != {want}')
print(dict(counts))
print('\n'.join(errs) or 'all checks passed')
sys.exit(1 if errs else 0)
