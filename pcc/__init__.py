"""PCC: problem / cause / countermeasure / other sentences in Chinese papers.

This package is the part shared by training and serving: reading papers, cleaning and segmenting
them into sentences, and the records that flow between the stages. It never imports torch.
"""
