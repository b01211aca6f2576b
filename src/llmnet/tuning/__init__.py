"""Experts the network makes: fine-tuning (LoRA) and prompt tuning (P-tuning v2 / prefix tuning) on CPU.

The base weights are always a GGUF file this machine has (a packaged model or any GGUF path), loaded by
transformers' GGUF support; nothing is fetched from a hub. The heavy libraries (torch, transformers,
peft, trl) are imported only inside the functions that need them: ``pip install -e ".[train]"``.

- :mod:`llmnet.tuning.base`: which base model, its file, sha256 and licence, and loading it for training.
- :mod:`llmnet.tuning.gguf_adapter`: a trained LoRA written as a GGUF adapter that llama.cpp applies.
- :mod:`llmnet.tuning.manifest`: what an expert version was made from (:class:`ExpertManifest`).
- :mod:`llmnet.tuning.licences`: which licences allow training on a base or a dataset.
- :mod:`llmnet.tuning.spec`: what to train (:class:`TrainSpec`), its hyperparameters' defaults and limits.
- :mod:`llmnet.tuning.train`: ``train_expert(spec, out_dir)``, a resumable run writing the artifact and manifest;
  with :mod:`~llmnet.tuning.examples` (the data, rendered as served), :mod:`~llmnet.tuning.stages` (SFT and
  DPO with TRL) and :mod:`~llmnet.tuning.losslog` (``loss.jsonl``, ``loss.png``).
"""
