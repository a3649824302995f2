"""PAS, a plug-and-play prompt augmentation system, built end to end without an API model (Part III).

Explained in `notebooks/alignment/pas.ipynb`. One module per stage of the pipeline:

* :mod:`.data`: the seed pairs (Chinese, and the English rendering of :mod:`.seed_en`) and stage 1,
  collecting prompts from the offline sources (with the answers their sources know);
* :mod:`.dedup`: stage 2, deduplication by complete-linkage clustering of sentence embeddings, checked on
  planted near-copies;
* :mod:`.classify`: stage 3, quality rules and the category classifier on multilingual embeddings;
* :mod:`.critique` and :mod:`.generate`: stage 4, few-shot generation from the seed pairs, explicit
  critique criteria, sampled regeneration;
* :mod:`.model`: stage 5, the PAS model (trl's SFT through :mod:`reprobook.llm`) and its use;
* :mod:`.reward` and :mod:`.evaluate`: stage 6, the held-out reward model (the primary judge, independent
  of every language model) and the plug-and-play comparison of every condition.

The split, the PAS variants and the chapter's claims are the chapter's: :mod:`reprobook.chapters.pas.experiment`.
"""

from .classify import CategoryClassifier, Classified, classify_prompts, quality_reason
from .critique import CRITERIA, Critique, critique_complement, gives_answer
from .data import Collected, Prompt, collect_prompts, parallel_seed, plant_duplicates, seed_pairs
from .dedup import Deduplicated, deduplicate, duplicate_clusters
from .evaluate import Models, PlugAndPlay, plug_and_play
from .generate import Generated, generate_pairs, generation_input, model_inputs
from .model import PAS_INSTRUCTION, augmented, pairs_with_answers, train_pas, write_complements
from .reward import EmbeddingRewardModel, cross_validated_agreement, train_embedding_reward_model

__all__ = [
    "CRITERIA",
    "CategoryClassifier",
    "Classified",
    "Collected",
    "Critique",
    "Deduplicated",
    "EmbeddingRewardModel",
    "Generated",
    "Models",
    "PAS_INSTRUCTION",
    "PlugAndPlay",
    "Prompt",
    "augmented",
    "classify_prompts",
    "collect_prompts",
    "critique_complement",
    "cross_validated_agreement",
    "deduplicate",
    "duplicate_clusters",
    "generate_pairs",
    "generation_input",
    "gives_answer",
    "model_inputs",
    "pairs_with_answers",
    "parallel_seed",
    "plant_duplicates",
    "plug_and_play",
    "quality_reason",
    "seed_pairs",
    "train_embedding_reward_model",
    "train_pas",
    "write_complements",
]
