"""zhijian (智能质检): automatic quality inspection of Chinese customer-service conversations.

The package is a staged pipeline (see ``pipeline.run``):

    read → validate → normalize → tokenize → privacy → rules → models → score → flag → write

One :class:`pipeline.schema.Conversation` flows through the stages; each stage fills its own
fields. Heavy libraries (spaCy, pandas, scikit-learn) are imported lazily by the stages that need
them so that commands which don't need them start fast.
"""

__version__ = "0.1.0"
