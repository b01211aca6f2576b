from __future__ import annotations

import json
from typing import Any, ClassVar

import pytest
from eth_abi.abi import encode
from eth_account import Account
from eth_account.messages import encode_defunct, encode_typed_data
from eth_account.signers.local import LocalAccount
from eth_typing import Hash32
from eth_utils.crypto import keccak
from pydantic import ValidationError

from llmnet.errors import InputError, SignatureError
from llmnet.signing import (
    MAX_SCORE,
    Rating,
    Response,
    SignedMessage,
    SigningDomain,
    TaskAssignment,
    TaskRequest,
    TypedMessage,
    personal_digest,
    recover_digest,
    sign,
    sign_digest,
    typed_data,
    typed_data_hash,
    verify,
)

# fixed keys keep signatures deterministic (RFC 6979) across runs
ALICE: LocalAccount = Account.from_key("0x" + "11" * 32)
BOB: LocalAccount = Account.from_key("0x" + "22" * 32)
CONTRACT = "0x5FbDB2315678afecb367f032d93F642f64180aa3"
DOMAIN = SigningDomain(chain_id=31337, verifying_contract=CONTRACT)
HASH_A = "0x" + "aa" * 32
HASH_B = "0x" + "bb" * 32
SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141


def task_request(**overrides: Any) -> TaskRequest:
    fields: dict[str, Any] = {
        "requester": ALICE.address,
        "domain": "medicine",
        "content_hash": HASH_A,
        "fee": 10**18,
        "n_respondents": 3,
        "deadline": 1_900_000_000,
        "nonce": 7,
    }
    return TaskRequest(**(fields | overrides))


def response(**overrides: Any) -> Response:
    fields: dict[str, Any] = {
        "task_id": 1,
        "respondent": ALICE.address,
        "content_hash": HASH_A,
        "model_id": "llama-3-8b",
        "weights_hash": HASH_B,
        "round": 0,
        "prompt_tokens": 12,
        "completion_tokens": 340,
    }
    return Response(**(fields | overrides))


def rating(**overrides: Any) -> Rating:
    fields: dict[str, Any] = {
        "task_id": 1,
        "validator": ALICE.address,
        "respondent": BOB.address,
        "response_hash": HASH_B,
        "score": 750,
        "round": 1,
        "epoch": 177_000_000,
    }
    return Rating(**(fields | overrides))


def assignment(**overrides: Any) -> TaskAssignment:
    fields: dict[str, Any] = {
        "task_id": 1,
        "coordinator": ALICE.address,
        "respondent": BOB.address,
        "content_hash": HASH_A,
        "round": 0,
        "deadline": 1_900_000_000,
    }
    return TaskAssignment(**(fields | overrides))


ALL_MESSAGES = [task_request(), assignment(), response(), rating()]


def _replace(signed: SignedMessage[Any], **changes: Any) -> SignedMessage[Any]:
    data = signed.to_dict()
    data.update(changes)
    return SignedMessage.from_dict(data, type(signed.message))


@pytest.mark.parametrize("message", ALL_MESSAGES, ids=lambda m: m.EIP712_TYPE)
def test_sign_then_verify_round_trips(message: TypedMessage) -> None:
    signed = sign(message, ALICE, DOMAIN)
    assert signed.signer == ALICE.address
    assert verify(signed, DOMAIN) == ALICE.address
    assert verify(signed, DOMAIN, expected_signer=ALICE.address.lower()) == ALICE.address


@pytest.mark.parametrize("message", ALL_MESSAGES, ids=lambda m: m.EIP712_TYPE)
def test_json_round_trip_still_verifies(message: TypedMessage) -> None:
    signed = sign(message, ALICE, DOMAIN)
    wire = json.loads(json.dumps(signed.to_dict()))
    restored = SignedMessage.from_dict(wire, type(message))
    assert restored == signed
    assert verify(restored, DOMAIN) == ALICE.address


def _struct_hash(type_string: str, values: list[tuple[str, Any]]) -> bytes:
    types = ["bytes32"] + [t for t, _ in values]
    return keccak(encode(types, [keccak(text=type_string)] + [v for _, v in values]))


def _domain_separator() -> bytes:
    return _struct_hash(
        "EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)",
        [
            ("bytes32", keccak(text="llmnet")),
            ("bytes32", keccak(text="1")),
            ("uint256", 31337),
            ("address", CONTRACT),
        ],
    )


def test_digest_matches_a_hand_built_eip712_encoding() -> None:
    message = response()
    struct = _struct_hash(
        "Response(uint256 taskId,address respondent,bytes32 contentHash,string modelId,"
        "bytes32 weightsHash,uint8 round,uint32 promptTokens,uint32 completionTokens,bytes32 requestHash)",
        [
            ("uint256", 1),
            ("address", ALICE.address),
            ("bytes32", bytes.fromhex("aa" * 32)),
            ("bytes32", keccak(text="llama-3-8b")),
            ("bytes32", bytes.fromhex("bb" * 32)),
            ("uint8", 0),
            ("uint32", 12),
            ("uint32", 340),
            ("bytes32", bytes(32)),
        ],
    )
    expected = keccak(b"\x19\x01" + _domain_separator() + struct)
    assert typed_data_hash(message, DOMAIN) == "0x" + expected.hex()
    signed = sign(message, ALICE, DOMAIN)
    assert signed.signature == "0x" + bytes(ALICE.unsafe_sign_hash(Hash32(expected)).signature).hex()


def test_typed_data_uses_camel_case_names() -> None:
    data = typed_data(task_request(), DOMAIN)
    assert data["primaryType"] == "TaskRequest"
    assert [f["name"] for f in data["types"]["TaskRequest"]] == [
        "requester",
        "domain",
        "contentHash",
        "fee",
        "nRespondents",
        "deadline",
        "nonce",
    ]
    assert data["message"]["nRespondents"] == 3
    assert data["domain"] == {
        "name": "llmnet",
        "version": "1",
        "chainId": 31337,
        "verifyingContract": CONTRACT,
    }


@pytest.mark.parametrize(
    ("field", "value"),
    [("fee", 10**18 + 1), ("content_hash", HASH_B), ("domain", "law"), ("nonce", 8)],
)
def test_tampered_field_fails(field: str, value: Any) -> None:
    signed = sign(task_request(), ALICE, DOMAIN)
    tampered = _replace(signed, message=signed.message.model_dump() | {field: value})
    with pytest.raises(SignatureError, match="not the claimed signer"):
        verify(tampered, DOMAIN)


def test_other_domain_fails() -> None:
    signed = sign(rating(), ALICE, DOMAIN)
    for other in (
        SigningDomain(chain_id=1, verifying_contract=CONTRACT),
        SigningDomain(chain_id=31337, verifying_contract="0x" + "33" * 20),
        SigningDomain(chain_id=31337, verifying_contract=CONTRACT, version="2"),
    ):
        with pytest.raises(SignatureError):
            verify(signed, other)


def test_signature_from_another_key_fails() -> None:
    forged = _replace(
        sign(rating(), ALICE, DOMAIN), signature=sign(rating(validator=BOB.address), BOB, DOMAIN).signature
    )
    with pytest.raises(SignatureError, match="not the claimed signer"):
        verify(forged, DOMAIN)


def test_claiming_the_real_signer_still_fails_on_identity_field() -> None:
    # Bob signs a rating that names Alice as validator and honestly says he signed it.
    message = rating()
    signature = BOB.sign_message(encode_typed_data(full_message=typed_data(message, DOMAIN))).signature
    signed = SignedMessage(message=message, signature="0x" + bytes(signature).hex(), signer=BOB.address)
    with pytest.raises(SignatureError, match=r"Rating\.validator is .* but the message was signed by"):
        verify(signed, DOMAIN)


def test_expected_signer_mismatch_fails() -> None:
    signed = sign(rating(), ALICE, DOMAIN)
    with pytest.raises(SignatureError, match=f"expected {BOB.address}"):
        verify(signed, DOMAIN, expected_signer=BOB.address)


def test_sign_refuses_message_naming_someone_else() -> None:
    with pytest.raises(InputError, match="set validator to the signing account"):
        sign(rating(validator=BOB.address), ALICE, DOMAIN)


def _with_signature(raw: bytes) -> SignedMessage[Rating]:
    return SignedMessage(message=rating(), signature="0x" + raw.hex(), signer=ALICE.address)


def test_malformed_signatures_fail() -> None:
    good = bytes.fromhex(sign(rating(), ALICE, DOMAIN).signature[2:])
    for bad in ("", "0x", "0x1234", "0x" + "zz" * 65, "0x" + good.hex() + "00", good.hex()):
        with pytest.raises(SignatureError, match="malformed signature"):
            verify(SignedMessage(message=rating(), signature=bad, signer=ALICE.address), DOMAIN)
    with pytest.raises(SignatureError, match=r"v is [01], expected 27 or 28"):
        verify(_with_signature(good[:64] + bytes([good[64] - 27])), DOMAIN)
    with pytest.raises(SignatureError, match="no public key"):
        verify(_with_signature(bytes(32) + good[32:]), DOMAIN)


def test_high_s_twin_of_a_valid_signature_is_rejected() -> None:
    good = bytes.fromhex(sign(rating(), ALICE, DOMAIN).signature[2:])
    s = int.from_bytes(good[32:64], "big")
    flipped_v = 55 - good[64]  # 27 <-> 28
    twin = good[:32] + (SECP256K1_N - s).to_bytes(32, "big") + bytes([flipped_v])
    assert (
        Account.recover_message(
            encode_typed_data(full_message=typed_data(rating(), DOMAIN)),
            signature=twin,
        )
        == ALICE.address
    )
    with pytest.raises(SignatureError, match="upper half"):
        verify(_with_signature(twin), DOMAIN)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("requester", "0x1234"),
        ("requester", "not an address"),
        ("requester", ALICE.address.lower()[:-1] + "Z"),
        ("content_hash", "0x" + "aa" * 31),
        ("content_hash", "aa" * 32),
        ("fee", -1),
        ("fee", 2**256),
        ("fee", "100"),
        ("n_respondents", 256),
        ("n_respondents", True),
        ("deadline", 2**64),
        ("domain", ""),
    ],
)
def test_bad_fields_raise_input_error_from_parse(field: str, value: Any) -> None:
    data = task_request().model_dump() | {field: value}
    with pytest.raises(InputError, match=f"invalid TaskRequest: {field}"):
        TaskRequest.parse(data)
    with pytest.raises(ValidationError):
        TaskRequest(**data)


def test_mixed_case_address_with_wrong_checksum_is_rejected() -> None:
    address = ALICE.address
    flipped = address[:2] + "".join(c.swapcase() if c.isalpha() else c for c in address[2:])
    with pytest.raises(InputError, match="EIP-55 checksum"):
        TaskRequest.parse(task_request().model_dump() | {"requester": flipped})


def test_values_are_normalised() -> None:
    message = TaskRequest.parse(
        task_request().model_dump() | {"requester": ALICE.address.lower(), "content_hash": "0x" + "AA" * 32}
    )
    assert message.requester == ALICE.address
    assert message.content_hash == HASH_A
    assert rating(response_hash=bytes.fromhex("bb" * 32)).response_hash == HASH_B


def test_rating_score_is_capped_at_max_score() -> None:
    assert rating(score=MAX_SCORE).score == 1000
    with pytest.raises(InputError, match="score"):
        Rating.parse(rating().model_dump() | {"score": MAX_SCORE + 1})


def test_unknown_fields_are_rejected() -> None:
    with pytest.raises(InputError, match="bonus: Extra inputs"):
        Rating.parse(rating().model_dump() | {"bonus": 1})


def test_messages_are_frozen() -> None:
    with pytest.raises(ValidationError):
        rating().score = 10


def test_from_dict_rejects_wrong_type_and_missing_keys() -> None:
    data = sign(rating(), ALICE, DOMAIN).to_dict()
    with pytest.raises(InputError, match="expected a 'Response'"):
        SignedMessage.from_dict(data, Response)
    with pytest.raises(InputError, match="missing signature"):
        SignedMessage.from_dict({k: v for k, v in data.items() if k != "signature"}, Rating)
    with pytest.raises(InputError, match="not an address"):
        SignedMessage.from_dict(data | {"signer": "0x12"}, Rating)


def test_domain_validates_its_fields() -> None:
    assert SigningDomain(1, CONTRACT.lower()).verifying_contract == CONTRACT
    with pytest.raises(InputError, match="chain id"):
        SigningDomain(0, CONTRACT)
    with pytest.raises(InputError, match="not an address"):
        SigningDomain(1, "0xnope")


def test_declared_fields_must_match_model_fields() -> None:
    with pytest.raises(TypeError, match="do not match"):

        class Broken(TypedMessage):
            EIP712_TYPE: ClassVar[str] = "Broken"
            EIP712_FIELDS: ClassVar[list[tuple[str, str]]] = [("who", "address"), ("n", "uint16")]
            SIGNER_FIELD: ClassVar[str] = "who"

            who: str
            n: int


def test_fast_digest_equals_the_general_eip712_encoder() -> None:
    """Signing hashes our flat structs directly; eth_account's general encoder must agree."""
    import random

    from eth_account.messages import _hash_eip191_message

    from llmnet.signing import Rating, Response, TaskAssignment, TaskRequest, _digest, _signable

    rng = random.Random(5)

    def addr() -> str:
        return Account.create().address

    def h() -> str:
        return "0x" + rng.randbytes(32).hex()

    domain = SigningDomain(chain_id=rng.randrange(1, 2**40), verifying_contract=addr())
    for _ in range(20):
        messages = [
            TaskRequest(requester=addr(), domain="médecine", content_hash=h(), fee=rng.randrange(2**200),
                        n_respondents=rng.randrange(256), deadline=rng.randrange(2**64), nonce=rng.randrange(2**256)),
            TaskAssignment(task_id=rng.randrange(2**256), coordinator=addr(), respondent=addr(), content_hash=h(),
                           round=rng.randrange(256), deadline=rng.randrange(2**64)),
            Response(task_id=rng.randrange(2**128), respondent=addr(), content_hash=h(), model_id="gemma-3 ✓",
                     weights_hash=h(), round=1, prompt_tokens=rng.randrange(2**32), completion_tokens=7),
            Rating(task_id=3, validator=addr(), respondent=addr(), response_hash=h(), score=rng.randrange(1001),
                   round=0, epoch=rng.randrange(2**64)),
        ]  # fmt: skip
        for message in messages:
            assert _digest(message, domain) == _hash_eip191_message(_signable(message, domain))


def test_personal_signature_is_what_a_wallet_makes() -> None:
    receipt_hash = "0x" + "ab" * 32
    wallet = Account.sign_message(encode_defunct(hexstr=receipt_hash), ALICE.key)
    ours = sign_digest(personal_digest(receipt_hash), ALICE)
    assert ours == "0x" + bytes(wallet.signature).hex()
    assert recover_digest(personal_digest(receipt_hash), ours) == ALICE.address
    assert recover_digest(personal_digest("0x" + "cd" * 32), ours) != ALICE.address
