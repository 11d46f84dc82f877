"""ReorderBuffer: video packets back in sequence order, without waiting when in order."""

from __future__ import annotations

from gateway.rtp.reorder import ReorderBuffer


def feed(buffer: ReorderBuffer[int], seqs: list[int], now: float = 0.0) -> list[int]:
    out: list[int] = []
    for seq in seqs:
        out += buffer.push(seq, seq, now)
    return out


def test_in_order_packets_pass_at_once() -> None:
    buffer: ReorderBuffer[int] = ReorderBuffer()
    for seq in range(10):
        assert buffer.push(seq, seq, 0.0) == [seq]


def test_a_swapped_pair_comes_out_in_order() -> None:
    buffer: ReorderBuffer[int] = ReorderBuffer()
    assert feed(buffer, [1, 2, 4, 3, 5]) == [1, 2, 3, 4, 5]
    assert buffer.stats["reordered"] == 1


def test_across_the_sequence_wrap() -> None:
    buffer: ReorderBuffer[int] = ReorderBuffer()
    assert feed(buffer, [65534, 0, 65535, 1]) == [65534, 65535, 0, 1]


def test_a_real_loss_is_given_up_after_depth_packets() -> None:
    buffer: ReorderBuffer[int] = ReorderBuffer(depth=3)
    assert feed(buffer, [1, 3, 4, 5]) == [1]
    assert buffer.push(6, 6, 0.0) == [3, 4, 5, 6]  # 2 never came: lost
    assert buffer.stats["gave_up"] == 1
    assert buffer.push(2, 2, 0.0) == [2]  # too late: passed on for the depacketizer to drop


def test_a_real_loss_is_given_up_after_max_wait() -> None:
    buffer: ReorderBuffer[int] = ReorderBuffer(max_wait_s=0.05)
    assert feed(buffer, [1, 3], now=0.0) == [1]
    assert buffer.poll(0.01) == []
    assert buffer.poll(0.06) == [3]
    assert buffer.push(4, 4, 0.07) == [4]


def test_two_gaps_each_wait_their_turn() -> None:
    buffer: ReorderBuffer[int] = ReorderBuffer(max_wait_s=0.05)
    assert feed(buffer, [1, 3, 5], now=0.0) == [1]
    assert buffer.poll(0.06) == [3]  # 2 lost; 4 may still come
    assert buffer.push(4, 4, 0.07) == [4, 5]


def test_a_restarted_sender_is_followed_at_once() -> None:
    buffer: ReorderBuffer[int] = ReorderBuffer()
    assert feed(buffer, [10, 12]) == [10]
    assert buffer.push(30000, 30000, 0.0) == [12, 30000]
    assert buffer.push(30001, 30001, 0.0) == [30001]
