"""A trained expert put on chain as a new version of its owner's model.

    manifest = checked_run(Path("runs/law-v2"))          # licences, artifact hash
    plan = plan_version(manifest, owner=v1.address, version=v2.address,
                        endpoint="http://127.0.0.1:8411", model_version="v2", chain_id=31337)
    done = register_version(ledger, plan, owner=v1, version=v2, stake=ETHER // 10)

The version is its own provider (its own key, stake and endpoint), so it earns its own reputation
beside its owner's; the owner records it with its provenance (:class:`VersionProvenance`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from llmnet.backends.base import Backend
from llmnet.chain.ledger import Account, Ledger
from llmnet.chain.provenance import MAX_VERSIONS, ZERO_ADDRESS, VersionProvenance
from llmnet.errors import ConfigError, InputError, UnknownProvider
from llmnet.tuning.licences import LicenceError, check_all_trainable, derived_licence
from llmnet.tuning.manifest import MANIFEST_FILE, ExpertManifest
from llmnet.types import ProviderProfile, TxReceipt

EXPERT_ROUTE = "/v1/expert"  # where a version's endpoint serves its manifest


@dataclass(frozen=True)
class VersionPlan:
    """What registering a version writes: its provider entry, then its provenance."""

    manifest: ExpertManifest
    profile: ProviderProfile
    provenance: VersionProvenance


@dataclass(frozen=True)
class RegisteredVersion:
    plan: VersionPlan
    registration: TxReceipt | None  # None when the version's key was registered already
    named: TxReceipt  # the version naming its owner
    recorded: TxReceipt


def checked_run(run_dir: Path) -> ExpertManifest:
    """The manifest of a training run, after checking its licences and its artifact's sha256."""
    manifest = ExpertManifest.load(run_dir)
    check_licences(manifest)
    check_artifact(manifest, run_dir if run_dir.is_dir() else run_dir.parent)
    return manifest


def data_licences(manifest: ExpertManifest) -> list[tuple[str, str]]:
    """(licence, what) of every input the expert was trained on, the base model first."""
    found = [(manifest.base.licence, f"base model {manifest.base.name}")]
    knowledge, rankings = manifest.dataset.knowledge, manifest.dataset.rankings
    if knowledge is not None:
        found.append((knowledge.licence, f"knowledge folder {knowledge.folder}"))
    if rankings is not None:
        where = f"the rankings of {rankings.contract} (blocks {rankings.from_block}-{rankings.to_block})"
        found += [(licence, f"a model's responses in {where}") for licence in dict.fromkeys(rankings.licences)]
    return found


def check_licences(manifest: ExpertManifest) -> None:
    """Refuse an expert trained on a base or data whose licence forbids it, or that claims a licence
    its inputs do not give it."""
    inputs = data_licences(manifest)
    check_all_trainable(inputs)
    expected = derived_licence(manifest.base.licence, [licence for licence, _ in inputs[1:]])
    if manifest.licence.strip().lower() != expected.strip().lower():
        raise LicenceError(f"the manifest says the expert is under {manifest.licence!r}, but its base model "
                           f"and data make it {expected!r}; train it again so its manifest carries that")  # fmt: skip


def check_artifact(manifest: ExpertManifest, folder: Path) -> None:
    """The artifact the manifest names is in ``folder`` with the sha256 it records."""
    from llmnet.backends.weights import weights_sha256

    path = folder / manifest.artifact.file
    if not path.is_file():
        raise ConfigError(f"the manifest names the artifact {path}, which does not exist; register the folder "
                          "`llmnet expert train` wrote, with its artifact beside expert.json")  # fmt: skip
    actual = weights_sha256(path)
    if actual != manifest.artifact.sha256:
        raise ConfigError(f"{path} has sha256 {actual}, so it does not hash to the sha256 its manifest records "
                          f"({manifest.artifact.sha256}): the artifact changed after training; train again or "
                          "restore the file")  # fmt: skip


def next_model_version(ledger: Ledger, owner: str) -> str:
    """``v2`` for an owner's first recorded version (the owner's own model being v1), then ``v3``…"""
    return f"v{len(ledger.versions_of(owner)) + 2}"


def plan_version(
    manifest: ExpertManifest, *, owner: str, version: str, endpoint: str, model_version: str, chain_id: int,
    model_id: str | None = None, domains: tuple[str, ...] = (),
) -> VersionPlan:  # fmt: skip
    """The provider entry and the provenance of ``manifest`` registered as ``version`` of ``owner``."""
    rankings = manifest.dataset.rankings
    if rankings is not None and rankings.chain_id != chain_id:
        raise InputError(f"the expert learnt from rankings on chain {rankings.chain_id}, but this is chain "
                         f"{chain_id}; register it on the chain its rankings are on")  # fmt: skip
    profile = ProviderProfile(
        endpoint=endpoint, domains=domains or tuple(manifest.domains), model_id=model_id or manifest.name,
        weights_hash="0x" + manifest.artifact.sha256, model_version=model_version, licence=manifest.licence,
    )  # fmt: skip
    provenance = VersionProvenance(
        version=version, owner=owner, model_version=model_version, manifest_hash="0x" + manifest.digest(),
        base_hash="0x" + manifest.base.sha256, method=manifest.method, dataset_hash="0x" + manifest.dataset.sha256,
        rankings=rankings.contract if rankings else ZERO_ADDRESS, from_block=rankings.from_block if rankings else 0,
        to_block=rankings.to_block if rankings else 0, manifest_url=endpoint.rstrip("/") + EXPERT_ROUTE,
    )  # fmt: skip
    return VersionPlan(manifest, profile, provenance)


def register_version(ledger: Ledger, plan: VersionPlan, *, owner: Account, version: Account,
                     stake: int) -> RegisteredVersion:  # fmt: skip
    """Register the version's key as a provider (unless it is, with this artifact), let it name its
    owner, then record its provenance signed by the owner."""
    if owner.address.lower() == version.address.lower():
        raise InputError(f"the owner and the version are the same account {owner.address}; a version needs its "
                         "own key (create one with `llmnet keys new version.json`)")  # fmt: skip
    if not ledger.is_registered(owner.address):
        raise InputError(f"the owner {owner.address} is not a registered provider; its own model is v1: serve and "
                         "register it first (`llmnet serve respondent`, or `llmnet providers register`)")  # fmt: skip
    registration = None
    if ledger.is_registered(version.address):
        _check_same_artifact(ledger, plan, version.address)
    else:
        registration = ledger.register_provider(plan.profile, stake, version)
    named = ledger.name_owner(owner.address, version)
    return RegisteredVersion(plan, registration, named, ledger.record_version(plan.provenance, owner))


def _check_same_artifact(ledger: Ledger, plan: VersionPlan, address: str) -> None:
    registered = ledger.get_provider(address).profile.weights_hash.lower()
    if registered != plan.profile.weights_hash.lower():
        raise InputError(f"{address} is registered already with weights {registered}, not this expert's "
                         f"artifact {plan.profile.weights_hash}; give the new version a key of its own")  # fmt: skip


def lineage(ledger: Ledger, address: str) -> list[VersionProvenance]:
    """The provenance of ``address``, then of its owner, and so on up to an original provider
    (nearest first; empty for a provider nobody recorded as a version)."""
    chain: list[VersionProvenance] = []
    seen = {address.lower()}
    while len(chain) <= MAX_VERSIONS:
        try:
            found = ledger.provenance(address)
        except UnknownProvider:
            break
        chain.append(found)
        address = found.owner
        if address.lower() in seen:  # two providers that recorded each other
            break
        seen.add(address.lower())
    return chain


def served_manifest(backend: Backend) -> bytes | None:
    """The ``expert.json`` of the trained version ``backend`` runs, as it is on disk: found beside its
    weights (an adapter file, or a prefix folder, in the run folder `llmnet expert train` wrote) and
    naming them as its artifact. None for a model no run made."""
    sha256 = backend.weights_sha256
    files: dict[str, Path] = getattr(backend, "weight_files", dict)()
    weights = files.get(sha256) if sha256 else None
    for folder in (weights.parent, weights.parent.parent) if weights else ():
        path = folder / MANIFEST_FILE
        if path.is_file() and _names_artifact(path, sha256):
            return path.read_bytes()
    return None


def _names_artifact(path: Path, sha256: str | None) -> bool:
    try:
        return ExpertManifest.load(path).artifact.sha256 == sha256
    except ConfigError:
        return False
