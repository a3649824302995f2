"""Part III, LLM alignment: the methods of the Baichuan 2, Baichuan Alignment and PAS chapters.

One module per idea (tokenizer, NormHead and max-z loss, scaling law, reward model, preference
optimisation, merging, prompt augmentation); each module's docstring names the chapter that explains it.
The language-model toolkit they share (loading, generation, log-probabilities, trainers, judges) is
:mod:`reprobook.llm`.
"""
