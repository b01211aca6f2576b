"""Every error llmnet raises on purpose derives from :class:`LlmnetError`.

    LlmnetError
    ├── ConfigError              bad or missing configuration, files, tools
    ├── InputError               a value supplied by a user or client is malformed
    ├── KeystoreError            a key cannot be loaded (missing, wrong password)
    ├── SignatureError           a signed message does not verify
    ├── AuthenticationError      an API key is missing or unknown
    ├── NotFound                 no such model, task or route
    ├── NoRespondents            no respondent could answer in time
    ├── QuotaExceeded            a requester's escrowed funds do not cover the fee
    ├── CoordinatorRefused       a coordinator answered a client's request with an error status
    ├── BudgetExceeded           an agent team's next call would pass its budget (tokens or wei)
    ├── StoreError               the off-chain content store
    │   └── ContentNotFound      no content under that hash
    ├── OutboxError              the durable chain-write queue
    ├── CorpusError              a domain's reference corpus is malformed, tampered with, too big or unreachable
    ├── BackendError             an LLM backend failed to generate
    │   ├── BackendUnavailable   the model cannot be reached or loaded
    │   │   └── WeightsUnavailable   weights named by hash cannot be fetched, are too big, or do not match it
    │   ├── BackendRateLimited   the provider asks to slow down; ``.retry_after`` in seconds
    │   └── BackendTimeout       the provider did not answer in time
    └── ChainError               talking to an Ethereum node
        ├── ChainUnavailable     the node does not answer
        ├── NotDeployed          no llmnet contracts recorded for this chain
        ├── WrongChain           the node is another chain than the one named
        └── ContractRevert       a contract refused the call; ``.reason`` says why
            ├── NotAuthorized    the sender may not do this
            ├── StakeTooLow      stake under the registry's minimum
            ├── UnknownDomain    the domain was never added
            ├── UnknownTask      no such task id
            ├── UnknownProvider  the address is not a registered provider
            ├── AlreadyExists    duplicate registration or domain
            ├── AlreadySettled   the task was settled before
            ├── AlreadyRefunded  the task was refunded before
            ├── CooldownActive   withdrawal before the unstake cooldown ends
            ├── DeadlineNotReached  refund before the task's deadline
            ├── InsufficientFunds   deposit, allowance or stake too small
            ├── NothingToWithdraw   no credits, or no stake unstaking, to withdraw
            ├── PayoutMismatch   batch payouts differ from the escrowed fees
            ├── WrongEpoch       a rating commitment or reveal outside its epoch
            ├── CommitmentMismatch  a reveal that does not open its commitment
            ├── UnknownConversation no such conversation in the rankings contract
            └── BadRanking       a ranking that is not a permutation of the responses

Messages name the bad value and how to fix it. Third-party errors (web3,
httpx, sqlite, openai, llama.cpp) are translated into this tree where they cross into llmnet.
"""

from __future__ import annotations


class LlmnetError(Exception):
    """Base of every error llmnet raises on purpose."""


class ConfigError(LlmnetError):
    pass


class InputError(LlmnetError, ValueError):
    pass


class KeystoreError(LlmnetError):
    pass


class SignatureError(LlmnetError):
    pass


class AuthenticationError(LlmnetError):
    pass


class NotFound(LlmnetError):
    pass


class NoRespondents(LlmnetError):
    pass


class QuotaExceeded(LlmnetError):
    pass


class CoordinatorRefused(LlmnetError):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"the coordinator answered {status}: {message}")
        self.status = status


class BudgetExceeded(LlmnetError):
    pass


class StoreError(LlmnetError):
    pass


class ContentNotFound(StoreError, KeyError):
    def __init__(self, content_hash: str) -> None:
        super().__init__(f"no content stored under hash {content_hash}")
        self.content_hash = content_hash

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0])


class OutboxError(LlmnetError):
    pass


class CorpusError(LlmnetError):
    pass


class BackendError(LlmnetError):
    pass


class BackendUnavailable(BackendError):
    pass


class WeightsUnavailable(BackendUnavailable):
    pass


class BackendRateLimited(BackendError):
    """The provider refused for now; ``retry_after`` is its hint in seconds, if any."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class BackendTimeout(BackendError):
    pass


class ChainError(LlmnetError):
    pass


class ChainUnavailable(ChainError):
    pass


class NotDeployed(ChainError):
    pass


class WrongChain(ChainError):
    pass


class ContractRevert(ChainError):
    """A contract reverted. ``reason`` is the contract's own revert string."""

    def __init__(self, reason: str, context: str = "") -> None:
        self.reason = reason
        self.context = context
        message = f"contract reverted: {reason}"
        if context:
            message += f" ({context})"
        super().__init__(message)


class NotAuthorized(ContractRevert):
    pass


class StakeTooLow(ContractRevert):
    pass


class UnknownDomain(ContractRevert):
    pass


class UnknownTask(ContractRevert):
    pass


class UnknownProvider(ContractRevert):
    pass


class AlreadyExists(ContractRevert):
    pass


class AlreadySettled(ContractRevert):
    pass


class AlreadyRefunded(ContractRevert):
    pass


class CooldownActive(ContractRevert):
    pass


class DeadlineNotReached(ContractRevert):
    pass


class InsufficientFunds(ContractRevert):
    pass


class PayoutMismatch(ContractRevert):
    pass


class NothingToWithdraw(ContractRevert):
    pass


# revert-string fragment -> error class; first match wins
class WrongEpoch(ContractRevert):
    pass


class CommitmentMismatch(ContractRevert):
    pass


class UnknownConversation(ContractRevert):
    pass


class BadRanking(ContractRevert):
    pass


_REVERT_CLASSES: tuple[tuple[str, type[ContractRevert]], ...] = (
    ("only ", NotAuthorized),
    ("stake below", StakeTooLow),
    ("unknown domain", UnknownDomain),
    ("unknown task", UnknownTask),
    ("unknown batch", UnknownTask),
    ("not registered", UnknownProvider),
    ("already registered", AlreadyExists),
    ("already exists", AlreadyExists),
    ("already settled", AlreadySettled),
    ("already refunded", AlreadyRefunded),
    ("cooldown not over", CooldownActive),
    ("deadline not reached", DeadlineNotReached),
    ("exceed", InsufficientFunds),
    ("nothing to withdraw", NothingToWithdraw),
    ("nothing is unstaking", NothingToWithdraw),
    ("no credits to withdraw", NothingToWithdraw),
    ("payouts must equal", PayoutMismatch),
    ("during the next epoch", WrongEpoch),
    ("two epochs later", WrongEpoch),
    ("does not match the commitment", CommitmentMismatch),
    ("already committed", AlreadyExists),
    ("already revealed", AlreadyExists),
    ("unknown conversation", UnknownConversation),
    ("no ranking by this account", UnknownConversation),
    ("ranking ", BadRanking),
    ("at least two responses", BadRanking),
    ("duplicate response hash", BadRanking),
)


def revert_error(reason: str, context: str = "") -> ContractRevert:
    """Build the most specific :class:`ContractRevert` for a revert string."""
    for fragment, cls in _REVERT_CLASSES:
        if fragment in reason:
            return cls(reason, context)
    return ContractRevert(reason, context)
