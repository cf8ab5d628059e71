"""The gold set: real chats labelled by people, and the measurement of every rule against it.

* ``sample`` — draws the conversations from the real corpora (half at random, half enriched with
  chats likely to hold rare events, by a screen that does not use zhijian's own output) and splits
  them once, by a fixed hash, into ``dev`` and ``test``;
* ``labels`` — the label schema of ``../shared/GOLD_RUBRIC.md``, validation of annotators' files,
  Cohen's κ per label and the merge of two annotations with an adjudication;
* ``evaluate`` — runs the pipeline on a gold split and compares it with the gold labels.
"""
