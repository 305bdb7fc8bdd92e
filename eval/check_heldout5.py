"""Checks heldout5.jsonl: 36 factoid questions on 36 different papers, exact titles, every fact
(one of its alternatives) word for word in the gold abstract, 1-3 facts of at most 4 words, and
no 5-word run copied from the gold title or abstract. Plain Python: python3 eval/check_heldout5.py"""

import json
import re
import sys

from corpus_pairs import ROOT, load

KEYS = {'qid', 'kind', 'question', 'gold_titles', 'also_relevant', 'answer_facts'}


def runs(text, n=5):
    words = re.findall(r'[a-z0-9\-]+', text.lower())
    return {tuple(words[i:i + n]) for i in range(len(words) - n + 1)}


def main():
    titles, abstracts = load()
    papers = dict(zip(titles, abstracts))
    rows = [json.loads(line) for line in open(f'{ROOT}/eval/heldout5.jsonl')]
    errors = []
    if len(rows) != 36:
        errors.append(f'{len(rows)} questions, expected 36')
    if len({r['qid'] for r in rows}) != len(rows) or len({r['gold_titles'][0] for r in rows}) != len(rows):
        errors.append('qids and gold papers must be unique')
    for r in rows:
        qid = r['qid']
        if set(r) != KEYS or r['kind'] != 'factoid':
            errors.append(f'{qid}: keys or kind')
            continue
        for title in r['gold_titles'] + r['also_relevant']:
            if title not in papers:
                errors.append(f'{qid}: not a corpus title: {title}')
        abstract = papers.get(r['gold_titles'][0], '')
        if not 1 <= len(r['answer_facts']) <= 3:
            errors.append(f'{qid}: {len(r["answer_facts"])} facts')
        for fact in r['answer_facts']:
            alternatives = [a.strip() for a in fact.split('|')]
            if not any(a.lower() in abstract.lower() for a in alternatives):
                errors.append(f'{qid}: fact not in the abstract: {fact}')
            if any(len(a.split()) > 4 for a in alternatives):
                errors.append(f'{qid}: fact longer than 4 words: {fact}')
        if runs(r['question']) & (runs(abstract) | runs(r['gold_titles'][0])):
            errors.append(f'{qid}: copies a 5-word run')
    for error in errors:
        print(error)
    print(f'{len(rows)} questions, {len(errors)} problems')
    return 1 if errors else 0


if __name__ == '__main__':
    sys.exit(main())
