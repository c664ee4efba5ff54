"""Tags kept by a restore (:mod:`sagasr_stream.tags`): a FLAC's Vorbis comments and pictures into a FLAC output, an
MP3's ID3v2 and ID3v1 tags into an MP3 output, an MP3's ID3 tag as Vorbis comments and pictures into a FLAC output
(:mod:`sagasr_stream.id3`), an Ogg Vorbis file's comment header (its METADATA_BLOCK_PICTURE comments as pictures) into
a FLAC output; any of the three into an Ogg Vorbis output's comment header (re-paged, later pages renumbered), FLAC
and Ogg Vorbis comments into an MP3 output's ID3v2.4 tag; the restored audio untouched (same frames, STREAMINFO MD5,
LAME tag first: read back at the exact length; the same decoded Vorbis samples); a WAV's LIST/INFO or ID3 chunk and
an AIFF's text or ID3 chunks read as Vorbis comments, and chunks appended to WAV (INFO, ID3, a WAV's bext kept) and
AIFF (ID3) outputs, the samples the same; odd tags never fail a restore."""
import base64
import logging
import shutil
from pathlib import Path

import numpy as np
import pytest
from mutagen.aiff import AIFF
from mutagen.flac import FLAC, Picture
from mutagen.id3 import (APIC, COMM, ID3, TALB, TBPM, TCOM, TCON, TCOP, TDRC, TIT2, TPE1, TPE2, TPOS, TRCK, TSRC,
                         TXXX)
from mutagen.id3 import delete as delete_id3
from mutagen.oggvorbis import OggVorbis
from mutagen.wave import WAVE
from pedalboard.io import AudioFile

from sagasr_stream.api import restore_file
from sagasr_stream.audio_io import open_input
from sagasr_stream.cli import main
from sagasr_stream.errors import AudioFileError
from sagasr_stream.integrity import check_audio_file
from sagasr_stream.mp3 import mp3_gapless
from sagasr_stream.ogg import first_packets, ogg_crc
from sagasr_stream.tags import carry_tags
from sagasr_stream.tags.flac import StreamInfo, cuesheet_at_rate
from tests.conftest import band_limited_noise

N = 12_000  # frames of an input: short, not a whole number of MP3 frames
COMMENTS = [("TITLE", "Žluťoučký kůň — 夜の歌"), ("ARTIST", "Anna"), ("ARTIST", "Bérénice"), ("ALBUM", "Démo"),
            ("TRACKNUMBER", "3/12"), ("DATE", "1974")]
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8
JPEG = b"\xff\xd8\xff\xe0" + bytes(range(255, -1, -1)) * 4


def write(path, channels=1, rate=44100, quality=None, seed=0):
    audio = band_limited_noise(N, seed=seed, channels=channels)
    with AudioFile(str(path), "w", rate, channels, **({"quality": quality} if quality else {})) as f:
        f.write(audio)
    return path


def picture(kind, mime, desc, data):
    p = Picture()
    p.type, p.mime, p.desc, p.data, p.width, p.height, p.depth = kind, mime, desc, data, 16, 16, 24
    return p


def tagged_flac(path, seed=0):
    write(path, channels=2, seed=seed)
    f = FLAC(path)
    for key, value in COMMENTS:
        f.tags.append((key, value))
    f.add_picture(picture(3, "image/png", "front — ☀", PNG))
    f.add_picture(picture(4, "image/jpeg", "back", JPEG))
    f.save()
    return path


def tagged_mp3(path, v2_version=3, v1=True):
    write(path, quality=320)
    tag = ID3()
    tag.add(TIT2(encoding=1 if v2_version == 3 else 3, text="Žluťoučký kůň — 夜の歌"))
    tag.add(TPE1(encoding=1, text="Bérénice"))
    tag.add(TALB(encoding=0, text="Demo"))
    tag.add(TRCK(encoding=0, text="3/12"))
    tag.add(APIC(encoding=0, mime="image/png", type=3, desc="front", data=PNG))
    tag.save(path, v1=2 if v1 else 0, v2_version=v2_version)
    return path


def flac_blocks(path):
    """[(type, body)] of a FLAC file's metadata blocks, and its frames (the bytes after them)."""
    data, pos, blocks = path.read_bytes(), 4, []
    assert data[:4] == b"fLaC"
    while True:
        last, kind, size = data[pos] >> 7, data[pos] & 0x7F, int.from_bytes(data[pos + 1 : pos + 4], "big")
        blocks.append((kind, data[pos + 4 : pos + 4 + size]))
        pos += 4 + size
        if last:
            return blocks, data[pos:]


def pictures(path):
    return [(p.type, p.mime, p.desc, p.data, p.width, p.height) for p in FLAC(path).pictures]


def mp3_audio(path):
    """The bytes of an MP3 file between its ID3v2 tag and its ID3v1 tag."""
    data = path.read_bytes()
    start = ID3(path).size if data[:3] == b"ID3" else 0
    return data[start : len(data) - 128 if data[-128:-125] == b"TAG" else len(data)]


def read_back(path):
    """(runtime's samples, pedalboard's frames)."""
    with open_input(path) as (reader, _, _):
        samples = reader.read(reader.frames + 10_000)
    with AudioFile(str(path)) as f:
        return samples, f.frames


def untagged_copy(source, tmp_path):
    """``source`` without its tags (the same audio), to restore as a reference."""
    plain = tmp_path / "plain" / source.name
    plain.parent.mkdir(exist_ok=True)
    shutil.copy(source, plain)
    if source.suffix == ".mp3":
        delete_id3(plain)  # v1 and v2
    elif source.suffix == ".ogg":
        f = OggVorbis(plain)
        f.tags.clear()
        f.save()
    else:  # a comment block without comments stays: the output keeps pedalboard's own
        f = FLAC(plain)
        f.clear_pictures()
        f.tags.clear()
        f.save()
    return plain


def tag_warnings(caplog):
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]


# --- FLAC -> FLAC -------------------------------------------------------------------------------------------------

def test_a_flac_restore_keeps_its_vorbis_comments_and_pictures_and_its_audio(tiny_model, tmp_path, caplog):
    source = tagged_flac(tmp_path / "in.flac")
    out = restore_file(source, tmp_path / "out.flac", tiny_model)
    reference = restore_file(untagged_copy(source, tmp_path), tmp_path / "plain.flac", tiny_model)

    assert list(FLAC(out).tags) == COMMENTS and FLAC(out).tags.vendor == FLAC(source).tags.vendor
    assert pictures(out) == pictures(source) and len(pictures(out)) == 2
    blocks, frames = flac_blocks(out)
    plain_blocks, plain_frames = flac_blocks(reference)
    assert frames == plain_frames  # the audio frames as written
    assert blocks[0] == plain_blocks[0]  # STREAMINFO: its MD5 and sample count
    assert [k for k, _ in blocks] == [0, 4, 6, 6] + [k for k, _ in plain_blocks[1:] if k not in (4, 6)]
    assert check_audio_file(out) == N
    samples, frames_read = read_back(out)
    assert samples.shape == (2, N) and frames_read == N
    assert np.array_equal(samples, read_back(reference)[0])
    assert tag_warnings(caplog) == []


def test_a_flac_without_tags_gives_pedalboards_file(tiny_model, tmp_path):
    source = untagged_copy(tagged_flac(tmp_path / "in.flac"), tmp_path)
    out = restore_file(source, tmp_path / "out.flac", tiny_model)
    assert list(FLAC(out).tags) == [] and pictures(out) == []
    assert check_audio_file(out) == N


def cuesheet(tracks, cd=True, lead_in=88200, catalog=b"1234567890123"):
    """A CUESHEET block's body: ``tracks`` are (number, offset, [(index number, offset from the track)])."""
    body = catalog.ljust(128, b"\0") + lead_in.to_bytes(8, "big") + bytes([0x80 if cd else 0]) + bytes(258)
    body += bytes([len(tracks)])
    for number, offset, indexes in tracks:
        isrc = b"USABC0000001" if number < 170 else bytes(12)
        body += offset.to_bytes(8, "big") + bytes([number]) + isrc
        body += bytes(14) + bytes([len(indexes)])
        body += b"".join(at.to_bytes(8, "big") + bytes([index]) + bytes(3) for index, at in indexes)
    return body


def with_cuesheet(path, body):
    """``path`` with a CUESHEET block of ``body`` right after its STREAMINFO."""
    data = path.read_bytes()
    end = 8 + int.from_bytes(data[5:8], "big")  # STREAMINFO is never the last block of pedalboard's files
    path.write_bytes(data[:end] + bytes([5]) + len(body).to_bytes(3, "big") + body + data[end:])
    return path


def quiet_flac(path, frames, rate):
    """A stereo FLAC whose restore stays under full scale (no peak warning)."""
    with AudioFile(str(path), "w", rate, 2) as f:
        f.write(band_limited_noise(frames, seed=1, channels=2) * 0.5)
    return path


def cue_tracks(path):
    return [(t.track_number, t.start_offset, [(i.index_number, i.index_offset) for i in t.indexes])
            for t in FLAC(path).cuesheet.tracks]


def test_a_flac_cuesheet_is_counted_at_the_output_rate(tiny_model, tmp_path, caplog):
    """A 22.05 kHz FLAC's cue sheet restored to 44.1 kHz: every offset doubles (index offsets stay relative to their
    track), the lead-out lies at the output's end, and the CD flag goes (24000 is no multiple of 588)."""
    tracks = [(1, 0, [(1, 0)]), (2, 5000, [(0, 0), (1, 1001)]), (170, N, [])]
    source = with_cuesheet(quiet_flac(tmp_path / "in.flac", N, 22050), cuesheet(tracks))
    out = restore_file(source, tmp_path / "out.flac", tiny_model)
    assert check_audio_file(out) == 2 * N and FLAC(out).info.sample_rate == 44100
    assert [k for k, _ in flac_blocks(out)[0]][:2] == [0, 5]
    sheet = FLAC(out).cuesheet
    assert cue_tracks(out) == [(1, 0, [(1, 0)]), (2, 10000, [(0, 0), (1, 2002)]), (170, 2 * N, [])]
    assert not sheet.compact_disc and sheet.lead_in_samples == 0 and sheet.media_catalog_number == b"1234567890123"
    assert sheet.tracks[0].isrc == b"USABC0000001"
    assert tag_warnings(caplog) == []


def test_a_flac_cuesheet_at_the_same_rate_is_kept_byte_for_byte(tiny_model, tmp_path, caplog):
    """A CD's cue sheet (offsets multiples of 588, 44.1 kHz) restored at 44.1 kHz: the block as it was."""
    frames = 588 * 20
    source = quiet_flac(tmp_path / "in.flac", frames, 44100)
    body = cuesheet([(1, 0, [(1, 0)]), (2, 588 * 7, [(0, 0), (1, 588 * 3)]), (170, frames, [])])
    out = restore_file(with_cuesheet(source, body), tmp_path / "out.flac", tiny_model)
    assert check_audio_file(out) == frames
    assert dict(flac_blocks(out)[0])[5] == body and FLAC(out).cuesheet.compact_disc
    assert tag_warnings(caplog) == []


def test_a_cd_cuesheet_stays_one_only_at_44100_hz_with_offsets_multiples_of_588():
    body = cuesheet([(1, 0, [(1, 0)]), (2, 588 * 7, [(0, 0), (1, 294)]), (170, 588 * 20, [])])
    doubled = cuesheet_at_rate(body, 22050, StreamInfo(44100, 588 * 40))
    assert doubled[136] & 0x80 and doubled[128:136] == (88200 * 2).to_bytes(8, "big")
    assert doubled == cuesheet([(1, 0, [(1, 0)]), (2, 588 * 14, [(0, 0), (1, 588)]), (170, 588 * 40, [])],
                               lead_in=88200 * 2)
    at_48k = cuesheet_at_rate(body, 44100, StreamInfo(48000, 12800))
    assert not at_48k[136] & 0x80 and at_48k[128:136] == bytes(8)
    assert at_48k[-36:-28] == (12800).to_bytes(8, "big")  # the lead-out at the output's end


def test_a_truncated_flac_cuesheet_is_left_out_with_one_warning(tiny_model, tmp_path, caplog):
    body = cuesheet([(1, 0, [(1, 0)]), (170, N, [])])
    source = with_cuesheet(tagged_flac(tmp_path / "in.flac"), body[:-5])
    out = restore_file(source, tmp_path / "out.flac", tiny_model)
    assert list(FLAC(out).tags) == COMMENTS and len(pictures(out)) == 2
    assert 5 not in dict(flac_blocks(out)[0])
    warnings = tag_warnings(caplog)
    assert len(warnings) == 1 and str(source) in warnings[0] and "CUESHEET" in warnings[0]


@pytest.mark.parametrize("kind", ["flac", "ogg"])
def test_the_cli_keeps_the_tags_of_an_album_restored_to_flac(tiny_bundle, tmp_path, capsys, kind):
    (tmp_path / "album").mkdir()
    for seed, name in enumerate(["01", "02"]):
        {"flac": tagged_flac, "ogg": tagged_ogg}[kind](tmp_path / "album" / f"{name}.{kind}", seed=seed)
    assert main(["restore", str(tmp_path / "album"), "-o", str(tmp_path / "out"), "--format", "flac",
                 "--model", str(tiny_bundle), "-q"]) == 0
    for name in ["01", "02"]:
        out = tmp_path / "out" / f"{name}.flac"
        expected = (pictures(tmp_path / "album" / f"{name}.flac") if kind == "flac"
                    else [(3, "image/png", "front — ☀", BIG_PNG, 16, 16)])
        assert list(FLAC(out).tags) == COMMENTS and pictures(out) == expected
        assert check_audio_file(out) == N
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["01.flac", "02.flac"]  # no temporary left


# --- MP3 -> MP3 ---------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("v2_version, v1", [(3, True), (4, True), (4, False)])
def test_an_mp3_restore_keeps_its_id3_tags_and_reads_back_at_the_exact_length(tiny_model, tmp_path, caplog,
                                                                              v2_version, v1):
    source = tagged_mp3(tmp_path / "in.mp3", v2_version, v1)
    out = restore_file(source, tmp_path / "out.mp3", tiny_model)
    reference = restore_file(untagged_copy(source, tmp_path), tmp_path / "plain.mp3", tiny_model)

    data, given = out.read_bytes(), source.read_bytes()
    assert data[: ID3(source).size] == given[: ID3(source).size]  # the ID3v2 tag verbatim
    assert (data[-128:-125] == b"TAG") == v1 and (data[-128:] == given[-128:] if v1 else True)  # ID3v1 verbatim
    tag = ID3(out)
    assert tag.version[1] == v2_version
    assert str(tag["TIT2"]) == "Žluťoučký kůň — 夜の歌" and str(tag["TPE1"]) == "Bérénice"
    assert str(tag["TRCK"]) == "3/12" and tag.getall("APIC")[0].data == PNG
    assert mp3_audio(out) == reference.read_bytes()  # the output's own frames, its LAME tag first
    assert mp3_gapless(out) == mp3_gapless(reference) is not None
    samples, frames_read = read_back(out)
    plain_samples, plain_frames = read_back(reference)
    assert samples.shape == (1, N) and np.array_equal(samples, plain_samples) and frames_read == plain_frames
    assert check_audio_file(out) == N
    assert tag_warnings(caplog) == []


# --- MP3 -> FLAC --------------------------------------------------------------------------------------------------

TITLE = "Žluťoučký kůň — 夜の歌"


def id3_tagged_mp3(path, v2_version=4, v23_sep="/"):
    """An MP3 with the frames a tagger writes (mutagen: a v2.3 save keeps the year in TYER and the day in TDAT)."""
    write(path, quality=320)
    tag = ID3()
    tag.add(TIT2(encoding=1 if v2_version == 3 else 3, text=TITLE))  # UTF-16 with BOM / UTF-8
    tag.add(TPE1(encoding=1, text=["Anna", "Bérénice"]))
    tag.add(TPE2(encoding=0, text="Ensemble"))
    tag.add(TALB(encoding=2 if v2_version == 4 else 0, text="Démo"))  # UTF-16BE (2.4 only) / latin-1
    tag.add(TRCK(encoding=0, text="3/12"))
    tag.add(TPOS(encoding=0, text="1/2"))
    tag.add(TDRC(encoding=0, text="1974-05-06"))
    tag.add(TCON(encoding=0, text="(17)" if v2_version == 3 else "17"))
    tag.add(TCOM(encoding=3, text="Dvořák"))
    tag.add(TCOP(encoding=0, text="© 1974"))
    tag.add(TSRC(encoding=0, text="CZAB17400001"))
    tag.add(TBPM(encoding=0, text="120"))
    tag.add(COMM(encoding=0, lang="eng", desc="iTunNORM", text=" 0000 0001"))  # with a description: not carried
    tag.add(COMM(encoding=1, lang="ces", desc="", text="Pěkná"))
    tag.add(TXXX(encoding=3, desc="Mood", text="calm"))
    tag.add(APIC(encoding=1 if v2_version == 3 else 3, mime="image/png", type=3, desc="front — ☀", data=PNG))
    if v2_version == 3:
        tag.update_to_v23()
    tag.save(path, v1=2, v2_version=v2_version, v23_sep=v23_sep)  # an ID3v1 tag too: not read beside an ID3v2
    return path


def expected_comments(artists):
    return {"TITLE": [TITLE], "ARTIST": artists, "ALBUMARTIST": ["Ensemble"], "ALBUM": ["Démo"],
            "TRACKNUMBER": ["3"], "TRACKTOTAL": ["12"], "DISCNUMBER": ["1"], "DISCTOTAL": ["2"],
            "DATE": ["1974-05-06"], "GENRE": ["Rock"], "COMPOSER": ["Dvořák"],
            "COPYRIGHT": ["© 1974"], "ISRC": ["CZAB17400001"], "BPM": ["120"],
            "COMMENT": ["Pěkná"], "MOOD": ["calm"]}


def comments(path):
    """{NAME: [values]} of a FLAC file's Vorbis comments."""
    found = {}
    for key, value in FLAC(path).tags:
        found.setdefault(key.upper(), []).append(value)
    return found


def assert_only_comments_and_a_picture_added(out: Path, reference: Path) -> None:
    """``out`` is the untagged ``reference`` restore with a comment block and a picture after its STREAMINFO: the
    frames and STREAMINFO as written, the audio the same."""
    blocks, frames = flac_blocks(out)
    plain_blocks, plain_frames = flac_blocks(reference)
    assert frames == plain_frames and blocks[0] == plain_blocks[0]  # the frames and STREAMINFO as written
    assert [k for k, _ in blocks] == [0, 4, 6] + [k for k, _ in plain_blocks[1:] if k != 4]
    assert check_audio_file(out) == N
    assert np.array_equal(read_back(out)[0], read_back(reference)[0])


@pytest.mark.parametrize("v2_version, v23_sep, artists", [(4, "/", ["Anna", "Bérénice"]),
                                                           (3, None, ["Anna", "Bérénice"]),
                                                           (3, "/", ["Anna/Bérénice"])])
def test_an_mp3_restored_to_flac_gets_its_id3v2_tag_as_vorbis_comments_and_a_picture(tiny_model, tmp_path, caplog,
                                                                                     v2_version, v23_sep, artists):
    """Values NUL-separated are repeated comments; a 2.3 tag's "/" (mutagen's default) is kept as written (AC/DC)."""
    source = id3_tagged_mp3(tmp_path / "in.mp3", v2_version, v23_sep)
    out = restore_file(source, tmp_path / "out.flac", tiny_model)
    reference = restore_file(untagged_copy(source, tmp_path), tmp_path / "plain.flac", tiny_model)

    assert comments(out) == expected_comments(artists)
    assert FLAC(out).tags.vendor == FLAC(reference).tags.vendor  # libFLAC's, as the output had it
    assert pictures(out) == [(3, "image/png", "front — ☀", PNG, 0, 0)]
    assert_only_comments_and_a_picture_added(out, reference)
    assert tag_warnings(caplog) == []


def test_an_mp3_with_only_an_id3v1_tag_gives_its_fields(tiny_model, tmp_path, caplog):
    source = id3_tagged_mp3(tmp_path / "in.mp3")
    delete_id3(source, delete_v1=False, delete_v2=True)
    assert source.read_bytes()[:3] != b"ID3" and source.read_bytes()[-128:-125] == b"TAG"
    out = restore_file(source, tmp_path / "out.flac", tiny_model)

    def latin_1(text):  # as mutagen writes an ID3v1 field
        return text.encode("latin-1", "replace").decode("latin-1")

    assert comments(out) == {"TITLE": [latin_1(TITLE)], "ARTIST": ["Anna"], "ALBUM": ["Démo"], "DATE": ["1974"],
                             "TRACKNUMBER": ["3"], "GENRE": ["Rock"]}  # mutagen writes no comment into it
    assert pictures(out) == [] and check_audio_file(out) == N
    assert tag_warnings(caplog) == []


def test_an_id3v1_tag_is_read_as_latin_1_with_trailing_nuls_and_spaces_stripped(tmp_path, caplog):
    def field(text, size):
        return text.encode("latin-1").ljust(size, b"\0")

    v1 = (b"TAG" + field("Été  ", 30) + field("Anna", 30) + b"Album".ljust(30, b" ") + b"1999"
          + field("ok", 28) + b"\0\x07" + bytes([255]))
    source = tmp_path / "in.mp3"
    source.write_bytes(write(tmp_path / "audio.mp3", quality=320).read_bytes() + v1)
    tmp, _ = pedalboard_output(tmp_path, ".flac")
    carry_tags(source, tmp, tmp_path / "out.flac")
    assert comments(tmp) == {"TITLE": ["Été"], "ARTIST": ["Anna"], "ALBUM": ["Album"], "DATE": ["1999"],
                             "COMMENT": ["ok"], "TRACKNUMBER": ["7"]}  # genre 255: none
    assert check_audio_file(tmp) == N and tag_warnings(caplog) == []


def frames_of(path):
    """{frame id: offset} of the ID3v2 frames of a file (2.3 or 2.4 headers; no unsynchronisation)."""
    data, pos, found = path.read_bytes(), 10, {}
    while data[pos] != 0:
        found[data[pos : pos + 4].decode()] = pos
        size = data[pos + 4 : pos + 8]
        pos += 10 + (size[0] << 21 | size[1] << 14 | size[2] << 7 | size[3] if data[3] == 4
                     else int.from_bytes(size, "big"))
    return found


def test_a_garbled_id3_frame_is_skipped_with_one_warning_naming_the_file(tiny_model, tmp_path, caplog):
    source = id3_tagged_mp3(tmp_path / "in.mp3")
    data = bytearray(source.read_bytes())
    data[frames_of(source)["TALB"] + 10] = 9  # an encoding that is none
    data[frames_of(source)["TCOM"] + 10 + 1 : frames_of(source)["TCOM"] + 10 + 3] = b"\xff\xfe"  # not UTF-8
    source.write_bytes(bytes(data))
    out = restore_file(source, tmp_path / "out.flac", tiny_model)

    expected = expected_comments(["Anna", "Bérénice"])
    del expected["ALBUM"], expected["COMPOSER"]
    assert comments(out) == expected and len(pictures(out)) == 1
    warnings = tag_warnings(caplog)
    assert len(warnings) == 1 and str(source) in warnings[0] and "TALB" in warnings[0] and "TCOM" in warnings[0]
    assert check_audio_file(out) == N


def syncsafe(n, width=4):
    return bytes((n >> (7 * i)) & 0x7F for i in reversed(range(width)))


def unsync(data):
    """ID3 unsynchronisation: a zero byte after each 0xFF before a byte >= 0xE0 or a zero."""
    out = bytearray()
    for index, byte in enumerate(data):
        out.append(byte)
        if byte == 0xFF and (index + 1 == len(data) or data[index + 1] >= 0xE0 or data[index + 1] == 0):
            out.append(0)
    return bytes(out)


PICTURE_DATA = b"\xff\xd8\xff\xe0\xff\x00\xff" + bytes(range(256))  # 0xFF 0x00 and 0xFF 0xE0 inside: unsynced


def frame23(fid, body, flags=b"\0\0"):
    return fid.encode() + len(body).to_bytes(4, "big") + flags + body


def frame24(fid, body, flags=b"\0\0"):
    return fid.encode() + syncsafe(len(body)) + flags + body


def frame22(fid, body):
    return fid.encode() + len(body).to_bytes(3, "big") + body


def id3v2(version, flags, body):
    return b"ID3" + bytes([version, 0, flags]) + syncsafe(len(body)) + body


HANDMADE = {
    # 2.3: an extended header, the whole tag unsynchronised, a compressed frame (skipped, told)
    "2.3 unsynchronised": (id3v2(3, 0xC0, unsync(
        (6).to_bytes(4, "big") + b"\0\0\0\0\0\0"
        + frame23("TIT2", b"\1\xff\xfeT\0\xff\0") + frame23("TYER", b"\x001999") + frame23("TDAT", b"\x003112")
        + frame23("TCOM", b"\x00\0\0\0\4x\x9c\3\0", flags=b"\0\x80")
        + frame23("APIC", b"\0image/jpeg\0\4back\0" + PICTURE_DATA))),
        {"TITLE": ["Tÿ"], "DATE": ["1999-12-31"]}, [(4, "image/jpeg", "back", PICTURE_DATA, 0, 0)], "TCOM"),
    # 2.4: an extended header, a frame unsynchronised with a data length, a frame with a grouping byte, an
    # encrypted frame (skipped, told), a link instead of a picture (skipped, told)
    "2.4 frame flags": (id3v2(4, 0x40,
        syncsafe(6) + b"\1\0"
        + frame24("APIC", syncsafe(len(b"\3image/jpeg\0\3\0" + PICTURE_DATA))
                  + unsync(b"\3image/jpeg\0\3\0" + PICTURE_DATA), flags=b"\0\x03")
        + frame24("TPE1", b"\x41\3A\0B", flags=b"\0\x40") + frame24("TALB", b"\x80\3Secret", flags=b"\0\x04")
        + frame24("TCON", b"\3(4)(RX)Eurodisco\0(200)\0Jazz")
        + frame24("TXXX", b"\3replaygain_track_gain\0-6.1 dB") + frame24("TXXX", b"\3a=b\0c")
        + frame24("APIC", b"\0-->\0\3\0http://x/y.jpg") + b"\0" * 20),
        {"ARTIST": ["A", "B"], "GENRE": ["Disco", "Remix", "Eurodisco", "200", "Jazz"],
         "REPLAYGAIN_TRACK_GAIN": ["-6.1 dB"]}, [(3, "image/jpeg", "", PICTURE_DATA, 0, 0)], "TALB"),
    # 2.2: three-letter frames, PIC with an image format
    "2.2": (id3v2(2, 0, frame22("TT2", b"\0Title") + frame22("TRK", b"\x005") + frame22("TYE", b"\x002001")
                  + frame22("COM", b"\0engdesc\0no") + frame22("COM", b"\0eng\0yes")
                  + frame22("PIC", b"\0PNG\3\0" + PNG)),
            {"TITLE": ["Title"], "TRACKNUMBER": ["5"], "DATE": ["2001"], "COMMENT": ["yes"]},
            [(3, "image/png", "", PNG, 0, 0)], None),
    # a frame said to run past the tag: the frames before it kept, the rest left out (told)
    "a frame past the tag": (id3v2(4, 0, frame24("TIT2", b"\3Kept") + b"TPE1" + syncsafe(500) + b"\0\0\3Lost"),
                             {"TITLE": ["Kept"]}, [], "TPE1"),
}


@pytest.mark.parametrize("case", HANDMADE)
def test_handmade_id3v2_tags_give_their_frames_and_tell_the_ones_skipped(tmp_path, caplog, case):
    tag, expected, expected_pictures, told = HANDMADE[case]
    source = tmp_path / "in.mp3"
    source.write_bytes(tag + write(tmp_path / "audio.mp3", quality=320).read_bytes())
    tmp, _ = pedalboard_output(tmp_path, ".flac")
    carry_tags(source, tmp, tmp_path / "out.flac")
    assert comments(tmp) == expected and pictures(tmp) == expected_pictures
    assert check_audio_file(tmp) == N
    warnings = tag_warnings(caplog)
    if told is None:
        assert warnings == []
    else:
        assert len(warnings) == 1 and str(source) in warnings[0] and told in warnings[0]


def test_the_genre_names_are_the_id3v1_list_with_winamps_extensions():
    from sagasr_stream.id3 import GENRES

    assert list(GENRES) == TCON.GENRES[: len(GENRES)] and len(GENRES) >= 148


# --- Ogg Vorbis -> FLAC --------------------------------------------------------------------------------------------

BIG_PNG = PNG * 40  # 82 KB: its base64 in a comment spans many Ogg pages (mutagen writes them of ~4 KB)


def picture_comment(kind, mime, desc, data):
    """A METADATA_BLOCK_PICTURE comment: the base64 of a FLAC PICTURE block's body."""
    return "METADATA_BLOCK_PICTURE", base64.b64encode(picture(kind, mime, desc, data).write()).decode("ascii")


def tagged_ogg(path, extra=(), seed=0):
    """An Ogg Vorbis file with :data:`COMMENTS` and, among them, a picture and ``extra`` comments."""
    write(path, quality=128, seed=seed)
    f = OggVorbis(path)
    f.tags.extend([*COMMENTS[:3], picture_comment(3, "image/png", "front — ☀", BIG_PNG), *extra, *COMMENTS[3:]])
    f.save()
    return path


def ogg_pages(path):
    """[(offset, header flags, body offset, body length)] of an Ogg file's pages."""
    data, pos, found = path.read_bytes(), 0, []
    while pos < len(data):
        segments = data[pos + 26]
        body = pos + 27 + segments
        length = sum(data[pos + 27 : body])
        found.append((pos, data[pos + 5], body, length))
        pos = body + length
    return found


def test_an_ogg_vorbis_restored_to_flac_gets_its_comments_and_its_picture(tiny_model, tmp_path, caplog):
    source = tagged_ogg(tmp_path / "in.ogg")
    assert [flags & 1 for _, flags, _, _ in ogg_pages(source)[1:4]] == [0, 1, 1]  # the comment packet spans pages
    out = restore_file(source, tmp_path / "out.flac", tiny_model)
    reference = restore_file(untagged_copy(source, tmp_path), tmp_path / "plain.flac", tiny_model)

    assert list(FLAC(out).tags) == COMMENTS  # in their order, the picture's comment taken out
    assert FLAC(out).tags.vendor == FLAC(reference).tags.vendor  # libFLAC's, as the output had it
    assert pictures(out) == [(3, "image/png", "front — ☀", BIG_PNG, 16, 16)]
    assert_only_comments_and_a_picture_added(out, reference)
    assert tag_warnings(caplog) == []


def test_an_odd_picture_comment_is_skipped_with_one_warning_and_coverart_stays_a_comment(tiny_model, tmp_path,
                                                                                        caplog):
    cut = picture_comment(4, "image/jpeg", "back", JPEG)[1]
    cut = base64.b64encode(base64.b64decode(cut)[:-10]).decode("ascii")  # its data said to run past it
    coverart = ("COVERART", base64.b64encode(JPEG).decode("ascii"))  # the old way: no metadata, kept as it is
    source = tagged_ogg(tmp_path / "in.ogg", extra=[("METADATA_BLOCK_PICTURE", "not base64!"),
                                                    ("METADATA_BLOCK_PICTURE", cut), coverart])
    out = restore_file(source, tmp_path / "out.flac", tiny_model)

    assert list(FLAC(out).tags) == [*COMMENTS[:3], coverart, *COMMENTS[3:]]
    assert pictures(out) == [(3, "image/png", "front — ☀", BIG_PNG, 16, 16)]
    warnings = tag_warnings(caplog)
    assert len(warnings) == 1 and str(source) in warnings[0] and warnings[0].count("METADATA_BLOCK_PICTURE") == 2
    assert check_audio_file(out) == N


def comment_packet_offset(source):
    """The file offset of an Ogg Vorbis file's comment count (its comment packet begins the second page)."""
    return ogg_pages(source)[1][2] + 7 + 4 + len(OggVorbis(source).tags.vendor.encode())


def damage_ogg(source, damage):
    data = bytearray(source.read_bytes())
    page, _, body, length = ogg_pages(source)[1]
    if damage == "comment count":  # 10**6 comments said: they run past the packet
        count = comment_packet_offset(source)
        data[count : count + 4] = (10**6).to_bytes(4, "little")
    elif damage == "no vorbis header":
        data[body + 6] = ord("X")  # "\x03vorbiX"
    elif damage == "page CRC":
        data[body + 100] ^= 1
    elif damage == "cut in the packet":
        data = data[: ogg_pages(source)[5][0] + 100]
    elif damage == "no Ogg page":
        data[page : page + 4] = b"OggX"
    elif damage == "a page missing":
        third, fourth = ogg_pages(source)[2][0], ogg_pages(source)[3][0]
        del data[third:fourth]
    if damage in ("comment count", "no vorbis header"):  # a page that is whole: its CRC made anew
        end = body + length
        data[page + 22 : page + 26] = bytes(4)
        data[page + 22 : page + 26] = ogg_crc(bytes(data[page:end])).to_bytes(4, "little")
    source.write_bytes(bytes(data))


@pytest.mark.parametrize("damage", ["comment count", "no vorbis header", "page CRC", "cut in the packet",
                                    "no Ogg page", "a page missing", "packet too large"])
def test_an_ogg_comment_packet_that_cannot_be_read_carries_nothing_and_warns_once(tmp_path, caplog, monkeypatch,
                                                                                   damage):
    """Libvorbis itself refuses such a file (a restore of it fails before its tags): the tags are read alone."""
    from sagasr_stream.tags import ogg

    source = tagged_ogg(tmp_path / "in.ogg")
    if damage == "packet too large":
        monkeypatch.setattr(ogg, "MAX_OGG_COMMENT", 50_000)  # the packet: ~115 KB
    else:
        damage_ogg(source, damage)
    tmp, before = pedalboard_output(tmp_path, ".flac")
    carry_tags(source, tmp, tmp_path / "out.flac")
    assert tmp.read_bytes() == before
    warnings = tag_warnings(caplog)
    assert len(warnings) == 1 and str(source) in warnings[0] and "Vorbis comment" in warnings[0]


def test_no_damage_to_an_ogg_comment_header_fails_the_carrying(tmp_path, caplog):
    """Bytes of the first pages changed at random (CRCs made anew or not, lacing values, lengths, base64): the
    tags are carried or left out with one warning, never raised."""
    source = tagged_ogg(tmp_path / "in.ogg")
    given, pages = source.read_bytes(), ogg_pages(source)[:4]
    tmp, before = pedalboard_output(tmp_path, ".flac")
    rng = np.random.default_rng(0)
    for _ in range(150):
        data = bytearray(given)
        for index in rng.integers(0, pages[-1][2] + pages[-1][3], size=int(rng.integers(1, 4))):
            data[index] = int(rng.choice([0, 1, 0x7F, 0xFF, ord("="), int(rng.integers(0, 256))]))
        if rng.random() < 0.5:
            for page, _, body, length in pages:
                data[page + 22 : page + 26] = bytes(4)
                data[page + 22 : page + 26] = ogg_crc(bytes(data[page : body + length])).to_bytes(4, "little")
        source.write_bytes(bytes(data))
        tmp.write_bytes(before)
        caplog.clear()
        carry_tags(source, tmp, tmp_path / "out.flac")
        assert len(tag_warnings(caplog)) <= 1 and check_audio_file(tmp) == N


def test_an_ogg_with_only_a_picture_keeps_the_outputs_comment_block(tmp_path, caplog):
    source = write(tmp_path / "in.ogg", quality=128)
    f = OggVorbis(source)
    f.tags.append(picture_comment(3, "image/png", "", PNG))
    f.save()
    tmp, _ = pedalboard_output(tmp_path, ".flac")
    vendor = FLAC(tmp).tags.vendor
    carry_tags(source, tmp, tmp_path / "out.flac")
    assert list(FLAC(tmp).tags) == [] and FLAC(tmp).tags.vendor == vendor
    assert pictures(tmp) == [(3, "image/png", "", PNG, 16, 16)]
    assert check_audio_file(tmp) == N and tag_warnings(caplog) == []


# --- into Ogg Vorbis ----------------------------------------------------------------------------------------------

def ogg_comments(path):
    """(an Ogg Vorbis file's comments in their order, its METADATA_BLOCK_PICTURE comments as picture tuples)."""
    found, found_pictures = [], []
    for key, value in OggVorbis(path).tags:
        if key.upper() == "METADATA_BLOCK_PICTURE":
            p = Picture(base64.b64decode(value))
            found_pictures.append((p.type, p.mime, p.desc, p.data, p.width, p.height))
        else:
            found.append((key, value))
    return found, found_pictures


def checked_pages(path):
    """[(header flags, granule position, lacing values, body)] of the pages of an Ogg file of one stream, each
    page's CRC and number checked."""
    data, found = path.read_bytes(), []
    for index, (pos, flags, body, length) in enumerate(ogg_pages(path)):
        page = bytearray(data[pos : body + length])
        crc, page[22:26] = int.from_bytes(page[22:26], "little"), bytes(4)
        assert ogg_crc(bytes(page)) == crc, f"the CRC of page {index} of {path}"
        assert int.from_bytes(page[18:22], "little") == index, f"the number of page {index} of {path}"
        found.append((flags, int.from_bytes(page[6:14], "little", signed=True), data[pos + 27 : body],
                      data[body : body + length]))
    return found


def header_pages(pages):
    """The number of pages the three Vorbis header packets take: the last one ends its page (the audio begins on a
    fresh one)."""
    ended = 0
    for index, (_, _, table, _) in enumerate(pages):
        ended += sum(1 for value in table if value < 255)
        if ended >= 3:
            assert ended == 3 and table[-1] < 255, "the audio begins on the setup packet's page"
            return index + 1
    raise AssertionError("fewer than three header packets")


def assert_only_the_comment_header_changed(out, reference, frames=N):
    """``out`` is the untagged ``reference`` with another comment header: the identification and setup packets,
    the audio pages (flags, granule positions, lacing, bodies) and the decoded samples the same; CRCs and page
    numbers right."""
    pages, plain = checked_pages(out), checked_pages(reference)
    assert pages[0] == plain[0] and pages[header_pages(pages) :] == plain[header_pages(plain) :]
    with open(out, "rb") as f, open(reference, "rb") as g:
        packets, plain_packets = first_packets(f, 3, 1 << 30), first_packets(g, 3, 1 << 30)
    assert packets[2] == plain_packets[2] and packets[1][-1:] == b"\x01"  # the setup packet; the framing bit
    with AudioFile(str(out)) as f, AudioFile(str(reference)) as g:
        assert f.frames == g.frames == frames and np.array_equal(f.read(f.frames), g.read(g.frames))
    assert np.array_equal(read_back(out)[0], read_back(reference)[0])
    assert check_audio_file(out) == frames


@pytest.mark.parametrize("kind", ["flac", "mp3", "ogg"])
def test_a_restore_into_ogg_vorbis_gets_the_inputs_comments_and_pictures(tiny_model, tmp_path, caplog, kind):
    source = {"flac": tagged_flac, "mp3": id3_tagged_mp3, "ogg": tagged_ogg}[kind](tmp_path / f"in.{kind}")
    out = restore_file(source, tmp_path / "out.ogg", tiny_model)
    reference = restore_file(untagged_copy(source, tmp_path), tmp_path / "plain.ogg", tiny_model)

    found, found_pictures = ogg_comments(out)
    if kind == "flac":
        assert found == COMMENTS and found_pictures == pictures(source) and len(found_pictures) == 2
    elif kind == "ogg":  # byte for byte, the picture's comment in its place
        assert list(OggVorbis(out).tags) == list(OggVorbis(source).tags) and found == COMMENTS
        assert found_pictures == [(3, "image/png", "front — ☀", BIG_PNG, 16, 16)]
        assert header_pages(checked_pages(out)) > header_pages(checked_pages(reference))  # its base64: ~110 KB
    else:
        grouped = {}
        for key, value in found:
            grouped.setdefault(key, []).append(value)
        assert grouped == expected_comments(["Anna", "Bérénice"])
        assert found_pictures == [(3, "image/png", "front — ☀", PNG, 0, 0)]
    assert OggVorbis(out).tags.vendor == OggVorbis(reference).tags.vendor  # libvorbis', as the output had it
    assert_only_the_comment_header_changed(out, reference)
    assert tag_warnings(caplog) == []


def test_a_comment_header_of_many_pages_is_paged_anew_and_the_pages_after_it_renumbered(tmp_path, caplog):
    source = write(tmp_path / "in.flac")
    lyrics = "la " * 200_000  # 600 KB: ten pages of 255 segments of 255 bytes
    f = FLAC(source)
    f.tags.extend([("LYRICS", lyrics), ("TITLE", "x")])
    f.save()
    tmp, before = pedalboard_output(tmp_path, ".ogg")
    reference = tmp_path / "plain.ogg"
    reference.write_bytes(before)
    carry_tags(source, tmp, tmp_path / "out.ogg")

    assert list(OggVorbis(tmp).tags) == [("LYRICS", lyrics), ("TITLE", "x")]
    assert header_pages(checked_pages(tmp)) >= header_pages(checked_pages(reference)) + 9
    assert_only_the_comment_header_changed(tmp, reference)
    assert tag_warnings(caplog) == []


def test_an_input_with_garbled_comments_gives_an_ogg_of_its_pictures_and_one_warning(tiny_model, tmp_path, caplog):
    source = tagged_flac(tmp_path / "in.flac")
    given = pictures(source)
    garble(source, 4, 4 + vendor_length(source), (1000).to_bytes(4, "little"))  # 1000 comments said, 6 there
    out = restore_file(source, tmp_path / "out.ogg", tiny_model)

    found, found_pictures = ogg_comments(out)
    assert found == [] and found_pictures == given and len(given) == 2
    warnings = tag_warnings(caplog)
    assert len(warnings) == 1 and str(source) in warnings[0] and "VORBIS_COMMENT" in warnings[0]
    assert check_audio_file(out) == N


@pytest.mark.parametrize("kind, suffix", [("ogg", ".ogg"), ("ogg", ".mp3"), ("flac", ".ogg"), ("flac", ".mp3"),
                                          ("mp3", ".ogg")])  # MP3 -> MP3: its ID3v1 tag kept (test above)
def test_an_input_whose_tags_cannot_be_read_leaves_the_output_untagged_with_one_warning(tmp_path, caplog, kind,
                                                                                         suffix):
    if kind == "ogg":
        source = tagged_ogg(tmp_path / "in.ogg")
        damage_ogg(source, "page CRC")
    elif kind == "flac":
        source = tagged_flac(tmp_path / "in.flac")
        source.write_bytes(b"fLaX" + source.read_bytes()[4:])
    else:
        source = tagged_mp3(tmp_path / "in.mp3", v1=False)
        data = bytearray(source.read_bytes())
        data[3] = 9  # an unknown version
        source.write_bytes(bytes(data))
    tmp, before = pedalboard_output(tmp_path, suffix)
    carry_tags(source, tmp, tmp_path / f"out{suffix}")
    assert tmp.read_bytes() == before
    warnings = tag_warnings(caplog)
    assert len(warnings) == 1 and str(source) in warnings[0]


def test_an_ogg_output_that_cannot_be_walked_is_left_as_written_with_one_warning(tmp_path, caplog):
    source = tagged_flac(tmp_path / "in.flac")
    tmp, before = pedalboard_output(tmp_path, ".ogg")
    cut = before[: ogg_pages(tmp)[1][2] + 20]  # inside the comment packet
    tmp.write_bytes(cut)
    carry_tags(source, tmp, tmp_path / "out.ogg")
    assert tmp.read_bytes() == cut
    warnings = tag_warnings(caplog)
    assert len(warnings) == 1 and str(source) in warnings[0] and "output" in warnings[0]


# --- into MP3 -----------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("kind", ["flac", "ogg"])
def test_a_restore_into_mp3_gets_an_id3v24_tag_and_reads_back_at_the_exact_length(tiny_model, tmp_path, caplog,
                                                                                   kind):
    source = {"flac": tagged_flac, "ogg": tagged_ogg}[kind](tmp_path / f"in.{kind}")
    out = restore_file(source, tmp_path / "out.mp3", tiny_model)
    reference = restore_file(untagged_copy(source, tmp_path), tmp_path / "plain.mp3", tiny_model)

    tag = ID3(out)
    assert tag.version == (2, 4, 0) and out.read_bytes()[-128:-125] != b"TAG"
    assert tag["TIT2"].text == [TITLE] and tag["TPE1"].text == ["Anna", "Bérénice"]
    assert tag["TALB"].text == ["Démo"] and tag["TRCK"].text == ["3/12"] and str(tag["TDRC"]) == "1974"
    assert [(a.type, a.mime, a.desc, a.data) for a in tag.getall("APIC")] == (
        [(3, "image/png", "front — ☀", PNG), (4, "image/jpeg", "back", JPEG)] if kind == "flac"
        else [(3, "image/png", "front — ☀", BIG_PNG)])
    assert mp3_audio(out) == reference.read_bytes()  # the output's own frames, its LAME tag first
    assert mp3_gapless(out) == mp3_gapless(reference) is not None
    samples, frames_read = read_back(out)
    plain_samples, plain_frames = read_back(reference)
    assert samples.shape[1] == N and np.array_equal(samples, plain_samples) and frames_read == plain_frames
    assert check_audio_file(out) == N
    assert tag_warnings(caplog) == []


MAPPED_COMMENTS = [("TITLE", TITLE), ("ARTIST", "Anna"), ("ARTIST", "Bérénice"), ("ALBUMARTIST", "Ensemble"),
                   ("ALBUM", "Démo"), ("TRACKNUMBER", "3"), ("TRACKTOTAL", "12"), ("DISCNUMBER", "1"),
                   ("DISCTOTAL", "2"), ("DATE", "1974-05-06"), ("GENRE", "Rock"), ("COMPOSER", "Dvořák"),
                   ("COPYRIGHT", "© 1974"), ("ISRC", "CZAB17400001"), ("BPM", "120"), ("COMMENT", "Pěkná"),
                   ("Mood", "calm"), ("REPLAYGAIN_TRACK_GAIN", "-6.1 dB"), ("REPLAYGAIN_TRACK_GAIN", "x")]


def test_vorbis_comments_become_the_id3_frames_taggers_use_and_read_back_as_they_were(tmp_path, caplog):
    source = write(tmp_path / "in.flac")
    f = FLAC(source)
    f.tags.extend(MAPPED_COMMENTS)
    f.add_picture(picture(4, "image/jpeg", "back", JPEG))
    f.save()
    mp3, _ = pedalboard_output(tmp_path, ".mp3")
    carry_tags(source, mp3, tmp_path / "out.mp3")

    tag = ID3(mp3)
    texts = {frame.FrameID: frame.text for frame in tag.values() if frame.FrameID.startswith("T")
             and frame.FrameID != "TXXX"}
    assert texts == {"TIT2": [TITLE], "TPE1": ["Anna", "Bérénice"], "TPE2": ["Ensemble"], "TALB": ["Démo"],
                     "TRCK": ["3/12"], "TPOS": ["1/2"], "TCON": ["Rock"], "TCOM": ["Dvořák"],
                     "TCOP": ["© 1974"], "TSRC": ["CZAB17400001"], "TBPM": ["120"],
                     "TDRC": [tag["TDRC"].text[0]]} and str(tag["TDRC"]) == "1974-05-06"
    assert [(c.desc, c.text) for c in tag.getall("COMM")] == [("", ["Pěkná"])]
    assert sorted((t.desc, t.text) for t in tag.getall("TXXX")) == [("Mood", ["calm"]),
                                                                     ("REPLAYGAIN_TRACK_GAIN", ["-6.1 dB", "x"])]
    assert [(a.type, a.mime, a.desc, a.data) for a in tag.getall("APIC")] == [(4, "image/jpeg", "back", JPEG)]
    assert check_audio_file(mp3) == N

    flac, _ = pedalboard_output(tmp_path, ".flac")  # and back into a FLAC: the comments as they were
    carry_tags(mp3, flac, tmp_path / "out.flac")
    expected = {}
    for key, value in MAPPED_COMMENTS:
        expected.setdefault(key.upper(), []).append(value)
    assert comments(flac) == expected and pictures(flac) == [(4, "image/jpeg", "back", JPEG, 0, 0)]
    assert tag_warnings(caplog) == []


@pytest.mark.parametrize("number, total, trck", [("3/12", "12", "3/12"), ("3", "", "3"), ("", "12", None)])
def test_a_track_number_and_total_make_one_trck_frame(tmp_path, number, total, trck):
    """A total without its number: a TXXX (read back as TRACKTOTAL, :mod:`sagasr_stream.id3`)."""
    source = write(tmp_path / "in.flac")
    f = FLAC(source)
    f.tags.extend([(name, value) for name, value in [("TRACKNUMBER", number), ("TRACKTOTAL", total)] if value])
    f.tags.append(("TITLE", "t"))
    f.save()
    tmp, _ = pedalboard_output(tmp_path, ".mp3")
    carry_tags(source, tmp, tmp_path / "out.mp3")
    tag = ID3(tmp)
    assert (tag["TRCK"].text == [trck]) if trck else ("TRCK" not in tag and tag["TXXX:TRACKTOTAL"].text == ["12"])
    assert "TXXX:TRACKTOTAL" not in tag or not trck


def test_a_date_that_is_no_timestamp_is_a_txxx_and_a_flacs_picture_comment_an_apic(tmp_path, caplog):
    source = write(tmp_path / "in.flac")
    f = FLAC(source)
    f.tags.extend([("Date", "May 1974"), picture_comment(3, "image/png", "front", PNG)])
    f.save()
    tmp, _ = pedalboard_output(tmp_path, ".mp3")
    carry_tags(source, tmp, tmp_path / "out.mp3")
    tag = ID3(tmp)
    assert "TDRC" not in tag and tag["TXXX:Date"].text == ["May 1974"]
    assert [(a.type, a.mime, a.desc, a.data) for a in tag.getall("APIC")] == [(3, "image/png", "front", PNG)]
    flac, _ = pedalboard_output(tmp_path, ".flac")  # read back: DATE again
    carry_tags(tmp, flac, tmp_path / "out.flac")
    assert comments(flac) == {"DATE": ["May 1974"]} and tag_warnings(caplog) == []


def test_an_odd_comment_is_left_out_of_an_mp3s_tag_with_one_warning(tmp_path, caplog):
    source = tagged_ogg(tmp_path / "in.ogg", extra=[("METADATA_BLOCK_PICTURE", "not base64!")])
    tmp, _ = pedalboard_output(tmp_path, ".mp3")
    carry_tags(source, tmp, tmp_path / "out.mp3")
    tag = ID3(tmp)
    assert tag["TIT2"].text == [TITLE] and len(tag.getall("APIC")) == 1
    warnings = tag_warnings(caplog)
    assert len(warnings) == 1 and str(source) in warnings[0] and "METADATA_BLOCK_PICTURE" in warnings[0]
    assert check_audio_file(tmp) == N


# --- what is not carried ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("source_name, out_name", [("in.wav", "out.flac"), ("in.wav", "out.ogg"),
                                                   ("in.wav", "out.mp3"), ("in.wav", "out.wav"),
                                                   ("in.aiff", "out.flac"), ("in.aiff", "out.aiff")])
def test_an_input_without_tags_gives_none_and_warns_of_nothing(tiny_model, tmp_path, caplog, source_name, out_name):
    source = write(tmp_path / source_name)
    out = restore_file(source, tmp_path / out_name, tiny_model)
    data = out.read_bytes()
    assert data[:3] != b"ID3" and data[-128:-125] != b"TAG"
    if out.suffix == ".flac":
        assert list(FLAC(out).tags) == [] and pictures(out) == []
    if out.suffix == ".ogg":
        assert list(OggVorbis(out).tags) == []
    if out.suffix in (".wav", ".aiff"):
        assert [cid for cid, _ in riff_chunks(out)] in ([b"JUNK", b"fmt ", b"data"], [b"COMM", b"SSND"])
    assert check_audio_file(out) == N
    assert tag_warnings(caplog) == []


# --- odd tags in the input ----------------------------------------------------------------------------------------

def garble(path, kind, offset, value):
    """Put the 4-byte ``value`` at ``offset`` into the body of ``path``'s first metadata block of type ``kind``."""
    data, pos = bytearray(path.read_bytes()), 4
    while data[pos] & 0x7F != kind:
        pos += 4 + int.from_bytes(data[pos + 1 : pos + 4], "big")
    body = pos + 4
    data[body + offset : body + offset + 4] = value
    path.write_bytes(bytes(data))


def vendor_length(path):
    return len(FLAC(path).tags.vendor.encode())


@pytest.mark.parametrize("garbled", ["comment count", "comment length", "picture length"])
def test_a_garbled_block_is_skipped_with_one_warning_naming_the_file(tiny_model, tmp_path, caplog, garbled):
    source = tagged_flac(tmp_path / "in.flac")
    if garbled == "comment count":  # 1000 comments said, 6 there
        garble(source, 4, 4 + vendor_length(source), (1000).to_bytes(4, "little"))
    elif garbled == "comment length":  # the first comment said to run past its block
        garble(source, 4, 8 + vendor_length(source), (10**6).to_bytes(4, "little"))
    else:  # the first picture's data said to run past its block
        garble(source, 6, 4 + 4 + 9 + 4 + len("front — ☀".encode()) + 16, (10**6).to_bytes(4, "big"))
    out = restore_file(source, tmp_path / "out.flac", tiny_model)

    warnings = tag_warnings(caplog)
    assert len(warnings) == 1 and str(source) in warnings[0]
    if garbled == "picture length":
        assert "PICTURE" in warnings[0] and list(FLAC(out).tags) == COMMENTS
        assert [p[0] for p in pictures(out)] == [4]  # the other picture kept
    else:
        assert "VORBIS_COMMENT" in warnings[0] and list(FLAC(out).tags) == [] and len(pictures(out)) == 2
    assert check_audio_file(out) == N


def pedalboard_output(tmp_path, suffix):
    """A file as pedalboard writes an output, and where it would go."""
    tmp = write(tmp_path / f".partial{suffix}", quality=320 if suffix == ".mp3" else None)
    return tmp, tmp.read_bytes()


@pytest.mark.parametrize("damage", ["cut in the metadata", "block past the end", "no fLaC"])
def test_a_flac_whose_metadata_cannot_be_walked_carries_nothing_and_warns_once(tmp_path, caplog, damage):
    source = tagged_flac(tmp_path / "in.flac")
    data = source.read_bytes()
    source.write_bytes({"cut in the metadata": data[:200], "block past the end": data[:42] + b"\x04\xff\xff\xff"
                        + data[46:], "no fLaC": b"fLaX" + data[4:]}[damage])
    tmp, before = pedalboard_output(tmp_path, ".flac")
    carry_tags(source, tmp, tmp_path / "out.flac")
    assert tmp.read_bytes() == before
    warnings = tag_warnings(caplog)
    assert len(warnings) == 1 and str(source) in warnings[0]


@pytest.mark.parametrize("damage", ["size not syncsafe", "past the end", "unknown version", "footer flag in v2.3"])
def test_an_mp3_whose_id3v2_header_is_odd_carries_only_its_id3v1_tag(tmp_path, caplog, damage):
    source = tagged_mp3(tmp_path / "in.mp3")
    data = bytearray(source.read_bytes())
    if damage == "size not syncsafe":
        data[8] |= 0x80
    elif damage == "past the end":
        data[6:10] = bytes([0x7F, 0x7F, 0x7F, 0x7F])
    elif damage == "unknown version":
        data[3] = 9
    else:
        data[5] |= 0x10
    source.write_bytes(bytes(data))
    tmp, before = pedalboard_output(tmp_path, ".mp3")
    carry_tags(source, tmp, tmp_path / "out.mp3")
    assert tmp.read_bytes() == before + bytes(data[-128:])
    warnings = tag_warnings(caplog)
    assert len(warnings) == 1 and str(source) in warnings[0] and "ID3v2" in warnings[0]


def test_an_id3v2_tag_with_a_footer_is_carried_whole(tmp_path, caplog):
    """An ID3v2.4 tag may end with a 10-byte footer ("3DI"), counted outside its size, as mp3_gapless skips it."""
    frame = b"TIT2" + (6).to_bytes(4, "big") + b"\0\0\3Title"
    size = len(frame).to_bytes(4, "big")  # < 128: syncsafe as it is
    tag = b"ID3\4\0\x10" + size + frame + b"3DI\4\0\x10" + size
    source = tmp_path / "in.mp3"
    source.write_bytes(tag + write(tmp_path / "audio.mp3", quality=320).read_bytes())
    tmp, before = pedalboard_output(tmp_path, ".mp3")
    carry_tags(source, tmp, tmp_path / "out.mp3")
    assert tmp.read_bytes() == tag + before
    assert mp3_gapless(tmp) == mp3_gapless(tmp_path / "audio.mp3") is not None
    assert tag_warnings(caplog) == []


def test_a_flac_behind_an_id3v2_tag_gives_its_comments_and_not_the_id3_tag(tmp_path, caplog):
    """Some taggers put an ID3v2 tag before a FLAC's marker (libFLAC skips it): its blocks are found behind it."""
    source = tagged_flac(tmp_path / "in.flac")
    frame = b"TIT2\0\0\0\6\0\0\0Title"
    tag = b"ID3\3\0\0\0\0\0" + bytes([len(frame)]) + frame
    source.write_bytes(tag + source.read_bytes())
    tmp, _ = pedalboard_output(tmp_path, ".flac")
    carry_tags(source, tmp, tmp_path / "out.flac")
    assert tmp.read_bytes()[:4] == b"fLaC" and list(FLAC(tmp).tags) == COMMENTS and len(pictures(tmp)) == 2
    assert tag_warnings(caplog) == []


def test_a_failed_rewrite_leaves_no_second_temporary(tmp_path, monkeypatch):
    """The tagged copy is written beside the output's temporary, under a name of ours (a killed run's is removed
    by :mod:`sagasr_stream.partials`), and removed when the copy fails."""
    from sagasr_stream import tags
    from sagasr_stream.partials import PARTIAL

    source = tagged_flac(tmp_path / "in.flac")
    tmp = write(tmp_path / ".sagasr-0123456789ab.partial-42.flac")
    assert PARTIAL.match(tags.retagged_path(tmp).name)

    def fail(*args):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(shutil, "copyfileobj", fail)
    with pytest.raises(AudioFileError, match=r"cannot write \S+out\.flac: No space left on device"):
        carry_tags(source, tmp, tmp_path / "out.flac")
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["in.flac", tmp.name])


def test_no_damage_to_an_id3v2_tag_makes_the_reader_raise(tmp_path):
    """Bytes of a tag changed at random (frame headers, encodings, sizes, text): the reader only ever leaves frames
    out, so that no tag fails a restore."""
    from sagasr_stream.id3 import id3v2_fields

    rng = np.random.default_rng(0)
    for version in (2, 3, 4):
        if version == 2:
            tag = HANDMADE["2.2"][0]
        else:
            source = id3_tagged_mp3(tmp_path / f"v{version}.mp3", version)
            tag = source.read_bytes()[: ID3(source).size]
        for _ in range(400):
            data = bytearray(tag)
            for index in rng.integers(10, len(data), size=int(rng.integers(1, 6))):
                data[index] = int(rng.choice([0, 1, 2, 3, 0x7F, 0x80, 0xFF, ord("("), int(rng.integers(0, 256))]))
            data[5] = int(rng.choice([0, 0x80, 0x40, 0xC0]))  # unsynchronised, an extended header
            comments, pictures = id3v2_fields(bytes(data), [])
            assert all(isinstance(value, str) for _, value in comments)
            assert all(isinstance(picture.data, bytes) for picture in pictures)


@pytest.mark.parametrize("value, names", [("17", ["Rock"]), ("(17)", ["Rock"]), ("(17)Rock", ["Rock"]),
                                          ("(17)(17)Hard Rock", ["Rock", "Hard Rock"]), ("(CR)", ["Cover"]),
                                          ("((17) text", ["(17) text"]), ("(255)", ["255"]), ("²", ["²"]),
                                          ("(²)", ["(²)"]), ("Rock", ["Rock"]),
                                          pytest.param("9" * 5000, ["9" * 5000], id="5000 digits")])
def test_a_genre_is_named_by_its_id3v1_number_and_other_text_is_kept(value, names):
    from sagasr_stream.id3 import genre_names

    assert genre_names(value) == names


# --- WAV and AIFF -------------------------------------------------------------------------------------------------

INFO = [(b"INAM", "Žluťoučký kůň"), (b"IART", "Anna"), (b"IPRD", "Démo"), (b"ICRD", "1974"), (b"IGNR", "Rock"),
        (b"ICMT", "Pěkná"), (b"ITRK", "3"), (b"ICOP", "© 1974"), (b"ISFT", "Lavf")]
INFO_COMMENTS = [("TITLE", "Žluťoučký kůň"), ("ARTIST", "Anna"), ("ALBUM", "Démo"), ("DATE", "1974"),
                 ("GENRE", "Rock"), ("COMMENT", "Pěkná"), ("TRACKNUMBER", "3"), ("COPYRIGHT", "© 1974"),
                 ("ENCODER", "Lavf")]
BEXT = b"A tape of 1974".ljust(256, b"\0") + b"Archive".ljust(32, b"\0") + bytes(314) + b"A=PCM,F=44100,W=24\r\n\0"


def riff_chunks(path):
    """[(id, body)] of a WAV's or an AIFF's chunks (their pad bytes checked) and its RIFF/FORM size."""
    data = path.read_bytes()
    order = "big" if data[:4] == b"FORM" else "little"
    pos, found = 12, []
    while pos < len(data):
        cid, size = data[pos : pos + 4], int.from_bytes(data[pos + 4 : pos + 8], order)
        found.append((cid, data[pos + 8 : pos + 8 + size]))
        assert size % 2 == 0 or data[pos + 8 + size] == 0  # a pad byte after an odd body
        pos += 8 + size + size % 2
    assert pos == len(data) and int.from_bytes(data[4:8], order) == len(data) - 8
    return found


def chunk(cid, body, order="little"):
    return cid + len(body).to_bytes(4, order) + body + b"\0" * (len(body) % 2)


def info_list(fields):
    return chunk(b"LIST", b"INFO" + b"".join(chunk(cid, text.encode() + b"\0") for cid, text in fields))


def info_of(path):
    """[(id, text)] of a WAV's LIST/INFO chunk."""
    body = dict(riff_chunks(path))[b"LIST"]
    assert body[:4] == b"INFO"
    pos, found = 4, []
    while pos < len(body):
        size = int.from_bytes(body[pos + 4 : pos + 8], "little")
        found.append((body[pos : pos + 4], body[pos + 8 : pos + 8 + size].rstrip(b"\0").decode()))
        pos += 8 + size + size % 2
    return found


def with_chunks(path, before_data=b"", after=b""):
    """``path`` (a file pedalboard wrote) with chunks put before its sample data and after it, its size made anew."""
    data = path.read_bytes()
    order = "big" if data[:4] == b"FORM" else "little"
    at = data.index(b"SSND" if order == "big" else b"data")
    data = data[:at] + before_data + data[at:] + after
    path.write_bytes(data[:4] + (len(data) - 8).to_bytes(4, order) + data[8:])
    return path


def tagged_wav(path, info=INFO, bext=b"", id3=b""):
    write(path, channels=2)
    return with_chunks(path, chunk(b"bext", bext) if bext else b"", (info_list(info) if info else b"") + id3)


def id3_chunk(cid, order="little", **frames):
    tag = ID3()
    tag.add(TIT2(encoding=3, text=TITLE))
    tag.add(TPE1(encoding=3, text=["Anna", "Bérénice"]))
    tag.add(APIC(encoding=3, mime="image/png", type=3, desc="front", data=PNG))
    for frame in frames.values():
        tag.add(frame)
    from io import BytesIO
    buffer = BytesIO()
    tag.save(buffer, v2_version=4, padding=lambda info: 0)
    return chunk(cid, buffer.getvalue(), order)


def samples_of(path):
    with AudioFile(str(path)) as f:
        return f.read(f.frames), f.samplerate


@pytest.mark.parametrize("id3", [None, b"id3 ", b"ID3 "])
def test_a_wav_restored_to_flac_gets_its_info_or_its_id3_chunk_as_vorbis_comments(tiny_model, tmp_path, caplog,
                                                                                  id3):
    source = tagged_wav(tmp_path / "in.wav", id3=id3_chunk(id3) if id3 else b"")
    out = restore_file(source, tmp_path / "out.flac", tiny_model)
    if id3:  # the ID3 tag, not the INFO chunk
        assert list(FLAC(out).tags) == [("TITLE", TITLE), ("ARTIST", "Anna"), ("ARTIST", "Bérénice")]
        assert pictures(out) == [(3, "image/png", "front", PNG, 0, 0)]
    else:
        assert list(FLAC(out).tags) == INFO_COMMENTS and pictures(out) == []
    assert check_audio_file(out) == N
    assert tag_warnings(caplog) == []


@pytest.mark.parametrize("suffix", [".mp3", ".ogg"])
def test_a_wav_restored_to_a_lossy_format_gets_its_info_comments(tmp_path, caplog, suffix):
    source = tagged_wav(tmp_path / "in.wav")
    tmp, _ = pedalboard_output(tmp_path, suffix)
    carry_tags(source, tmp, tmp_path / f"out{suffix}")
    if suffix == ".mp3":
        tag = ID3(tmp)
        assert str(tag["TIT2"]) == "Žluťoučký kůň" and str(tag["TRCK"]) == "3" and str(tag["TCOP"]) == "© 1974"
        assert str(tag.getall("TXXX")[0]) == "Lavf" and tag.getall("TXXX")[0].desc == "ENCODER"
    else:
        assert list(OggVorbis(tmp).tags) == INFO_COMMENTS
    assert tag_warnings(caplog) == []


def test_a_flac_restored_to_wav_gets_an_info_and_an_id3_chunk_and_the_same_samples(tiny_model, tmp_path, caplog):
    source = tagged_flac(tmp_path / "in.flac")
    out = restore_file(source, tmp_path / "out.wav", tiny_model)
    reference = restore_file(untagged_copy(source, tmp_path), tmp_path / "plain.wav", tiny_model)

    chunks, plain = riff_chunks(out), riff_chunks(reference)
    assert chunks[: len(plain)] == plain and [cid for cid, _ in chunks[len(plain) :]] == [b"LIST", b"id3 "]
    assert info_of(out) == [(b"INAM", COMMENTS[0][1]), (b"IART", "Anna; Bérénice"), (b"IPRD", "Démo"),
                            (b"ITRK", "3/12"), (b"ICRD", "1974")]
    tag = WAVE(out).tags
    assert str(tag["TIT2"]) == COMMENTS[0][1] and tag["TPE1"].text == ["Anna", "Bérénice"]
    assert str(tag["TALB"]) == "Démo" and str(tag["TRCK"]) == "3/12" and str(tag["TDRC"]) == "1974"
    assert [(a.type, a.mime, a.desc, a.data) for a in tag.getall("APIC")] == [(3, "image/png", "front — ☀", PNG),
                                                                              (4, "image/jpeg", "back", JPEG)]
    samples, rate = samples_of(out)
    plain_samples, plain_rate = samples_of(reference)
    assert rate == plain_rate and samples.shape == (2, N) and np.array_equal(samples, plain_samples)
    assert check_audio_file(out) == N and np.array_equal(read_back(out)[0], read_back(reference)[0])
    assert tag_warnings(caplog) == []


def test_an_mp3_with_a_picture_restored_to_wav_gets_it_in_an_id3_chunk(tiny_model, tmp_path, caplog):
    source = tagged_mp3(tmp_path / "in.mp3")
    out = restore_file(source, tmp_path / "out.wav", tiny_model)
    tag = WAVE(out).tags
    assert tag.getall("APIC")[0].data == PNG and tag.getall("APIC")[0].mime == "image/png"
    assert str(tag["TIT2"]) == "Žluťoučký kůň — 夜の歌" and str(tag["TPE1"]) == "Bérénice"
    assert (b"INAM", "Žluťoučký kůň — 夜の歌") in info_of(out)
    assert check_audio_file(out) == N
    assert tag_warnings(caplog) == []


def test_a_wav_restored_to_wav_keeps_its_bext_chunk_before_the_data(tiny_model, tmp_path, caplog):
    source = tagged_wav(tmp_path / "in.wav", bext=BEXT + b"X")  # an odd size: a pad byte after it
    out = restore_file(source, tmp_path / "out.wav", tiny_model)
    reference = restore_file(tagged_wav(tmp_path / "plain.wav", info=[]), tmp_path / "plain-out.wav", tiny_model)

    chunks = riff_chunks(out)
    assert [cid for cid, _ in chunks] == [b"JUNK", b"fmt ", b"bext", b"data", b"LIST"]
    assert dict(chunks)[b"bext"] == BEXT + b"X" and dict(chunks)[b"data"] == dict(riff_chunks(reference))[b"data"]
    assert info_of(out) == INFO  # every name INFO holds: no ID3 chunk
    assert np.array_equal(samples_of(out)[0], samples_of(reference)[0])
    assert check_audio_file(out) == N
    assert tag_warnings(caplog) == []


ARCHIVE_INFO = [(b"ITCH", "J. Novák"), (b"ISRC", "Radio archive"), (b"ISRF", "1/4-inch tape"), (b"IMED", "Tape"),
                (b"IARL", "Shelf 12")]


def test_an_archive_transfer_s_info_fields_go_round_a_wav_and_into_flac(tiny_model, tmp_path, caplog):
    """The RIFF standard's INFO ids beyond the common ones (a tape transfer's technician, source, its form, medium,
    archival location) were dropped; now each is a Vorbis comment by its meaning (ISRC: the source, not a recording
    code) and goes back to its id in a WAV. An id outside the standard is told, not dropped in silence."""
    source = tagged_wav(tmp_path / "in.wav", info=INFO + ARCHIVE_INFO + [(b"IXYZ", "private")])
    out = restore_file(source, tmp_path / "out.wav", tiny_model)
    assert info_of(out) == INFO + ARCHIVE_INFO
    warnings = tag_warnings(caplog)
    assert len(warnings) == 1 and "'IXYZ' is not a RIFF standard one" in warnings[0]
    flac = restore_file(source, tmp_path / "out.flac", tiny_model)
    assert list(FLAC(flac).tags)[len(INFO_COMMENTS):] == [
        ("TECHNICIAN", "J. Novák"), ("SOURCE", "Radio archive"), ("SOURCE_FORM", "1/4-inch tape"), ("MEDIUM", "Tape"),
        ("ARCHIVAL_LOCATION", "Shelf 12")]


@pytest.mark.parametrize("suffix", [".flac", ".mp3", ".ogg", ".aiff"])
def test_a_bext_chunk_that_no_output_format_but_wav_holds_is_told_as_left_out(tmp_path, caplog, suffix):
    """A Broadcast WAV restored to FLAC, MP3, Ogg Vorbis or AIFF: its INFO comments go over, its bext chunk (the
    transfer's description, originator and time reference) cannot; it was dropped in silence, now the tag warning
    names it."""
    source = tagged_wav(tmp_path / "in.wav", bext=BEXT)
    tmp, _ = pedalboard_output(tmp_path, suffix)
    carry_tags(source, tmp, tmp_path / f"out{suffix}")
    warnings = tag_warnings(caplog)
    assert len(warnings) == 1 and "bext" in warnings[0] and "only a WAV output holds one" in warnings[0]
    caplog.clear()
    carry_tags(tagged_wav(tmp_path / "plain.wav"), pedalboard_output(tmp_path, suffix)[0], tmp_path / f"out{suffix}")
    assert tag_warnings(caplog) == []  # the same file without a bext chunk: nothing left out


def test_a_bext_time_reference_is_counted_at_the_output_rate(tiny_model, tmp_path, caplog):
    """A Broadcast WAV's TimeReference counts samples since midnight at the file's rate: a 22.05 kHz tape transfer
    starting at 10:00:00 restored to 44.1 kHz still starts at 10:00:00, so its count doubles; the rest of the chunk
    stays as it was."""
    start = 22050 * 36000
    bext = BEXT[:338] + start.to_bytes(8, "little") + BEXT[346:]
    source = write(tmp_path / "in.wav", channels=2, rate=22050)
    with_chunks(source, chunk(b"bext", bext), b"")
    out = restore_file(source, tmp_path / "out.wav", tiny_model)
    assert samples_of(out)[1] == 44100
    kept = dict(riff_chunks(out))[b"bext"]
    assert int.from_bytes(kept[338:346], "little") == 44100 * 36000
    assert kept[:338] == bext[:338] and kept[346:] == bext[346:]
    same_rate = restore_file(source, tmp_path / "same.wav", tiny_model, output_rate=22050)
    assert dict(riff_chunks(same_rate))[b"bext"] == bext
    assert tag_warnings(caplog) == []


def test_an_aiff_id3_chunk_goes_round_into_an_aiff_output(tiny_model, tmp_path, caplog):
    source = write(tmp_path / "in.aiff", channels=2)
    with_chunks(source, after=id3_chunk(b"ID3 ", "big", album=TALB(encoding=3, text="Démo")))
    out = restore_file(source, tmp_path / "out.aiff", tiny_model)
    reference = restore_file(write(tmp_path / "plain.aiff", channels=2), tmp_path / "plain-out.aiff", tiny_model)

    chunks, plain = riff_chunks(out), riff_chunks(reference)
    assert chunks[: len(plain)] == plain and [cid for cid, _ in chunks[len(plain) :]] == [b"ID3 "]
    tag = AIFF(out).tags
    assert str(tag["TIT2"]) == TITLE and tag["TPE1"].text == ["Anna", "Bérénice"] and str(tag["TALB"]) == "Démo"
    assert tag.getall("APIC")[0].data == PNG
    assert np.array_equal(samples_of(out)[0], samples_of(reference)[0])
    assert check_audio_file(out) == N
    assert tag_warnings(caplog) == []


def test_an_aiffs_text_chunks_give_vorbis_comments(tmp_path, caplog):
    source = with_chunks(write(tmp_path / "in.aif"), after=b"".join(
        chunk(cid, text, "big") for cid, text in [(b"NAME", b"Song"), (b"AUTH", b"Anna"), (b"(c) ", b"1974 X"),
                                                  (b"ANNO", b"one"), (b"ANNO", b"two")]))
    tmp, _ = pedalboard_output(tmp_path, ".flac")
    carry_tags(source, tmp, tmp_path / "out.flac")
    assert list(FLAC(tmp).tags) == [("TITLE", "Song"), ("ARTIST", "Anna"), ("COPYRIGHT", "1974 X"),
                                    ("COMMENT", "one"), ("COMMENT", "two")]
    assert tag_warnings(caplog) == []


@pytest.mark.parametrize("channels, bit_depth, suffix", [(1, 24, ".wav"), (6, 32, ".wav"), (1, 24, ".aiff")])
def test_odd_sized_and_extensible_outputs_get_their_chunks_and_read_back_the_same(tmp_path, caplog, channels,
                                                                                  bit_depth, suffix):
    source = tagged_flac(tmp_path / "in.flac")
    tmp = tmp_path / f".partial{suffix}"
    with AudioFile(str(tmp), "w", 44100, channels, bit_depth=bit_depth) as f:
        f.write(band_limited_noise(1001, channels=channels))  # mono 24-bit: 3003 bytes of samples
    before, samples = riff_chunks(tmp), samples_of(tmp)[0]
    carry_tags(source, tmp, tmp_path / f"out{suffix}")
    assert riff_chunks(tmp)[: len(before)] == before
    if suffix == ".wav":
        assert WAVE(tmp).tags["TPE1"].text == ["Anna", "Bérénice"]
        fmt = dict(before)[b"fmt "]
        assert int.from_bytes(fmt[:2], "little") == (0xFFFE if channels > 2 else 1)  # WAVE_FORMAT_EXTENSIBLE, PCM
    else:
        assert AIFF(tmp).tags["TPE1"].text == ["Anna", "Bérénice"]
    with AudioFile(str(tmp)) as f:
        assert f.frames == 1001 and np.array_equal(f.read(f.frames), samples)
    assert check_audio_file(tmp) == 1001
    assert tag_warnings(caplog) == []


@pytest.mark.parametrize("broken", ["INFO past its LIST", "ID3 version", "chunk past the end", "no RIFF"])
def test_a_broken_wav_chunk_is_skipped_with_one_warning_and_the_output_left_untagged(tmp_path, caplog, broken):
    source = write(tmp_path / "in.wav", channels=2)
    if broken == "INFO past its LIST":
        with_chunks(source, after=chunk(b"LIST", b"INFO" + b"INAM" + (99).to_bytes(4, "little") + b"Song\0\0"))
    elif broken == "ID3 version":
        with_chunks(source, after=chunk(b"id3 ", b"ID3\x09" + bytes(6)))
    elif broken == "chunk past the end":
        with_chunks(source, after=b"LIST" + (10**6).to_bytes(4, "little") + b"INFO")
    else:
        source.write_bytes(b"RIFX" + source.read_bytes()[4:])
    for suffix in [".flac", ".wav"]:
        caplog.clear()
        tmp, before = pedalboard_output(tmp_path, suffix)
        carry_tags(source, tmp, tmp_path / f"out{suffix}")
        assert tmp.read_bytes() == before
        warnings = tag_warnings(caplog)
        assert len(warnings) == 1 and str(source) in warnings[0]


def as_rf64(path):
    """``path`` (a WAV pedalboard wrote) made an RF64 file: its JUNK chunk a ds64 chunk of its sizes, the RIFF and
    data sizes 0xFFFFFFFF."""
    data = bytearray(path.read_bytes())
    data_size = len(dict(riff_chunks(path))[b"data"])
    ds64 = chunk(b"ds64", (len(data) - 8).to_bytes(8, "little") + data_size.to_bytes(8, "little")
                 + (data_size // 4).to_bytes(8, "little") + bytes(4) + bytes(24))  # as long as the JUNK chunk
    assert data[12:16] == b"JUNK" and len(ds64) == 60
    data[:8], data[12:72] = b"RF64" + b"\xff" * 4, ds64
    at = data.index(b"data")
    data[at + 4 : at + 8] = b"\xff" * 4
    path.write_bytes(bytes(data))
    return path


def test_an_rf64_wav_gives_its_info_chunk_and_an_rf64_output_is_left_as_written(tmp_path, caplog):
    source = as_rf64(tagged_wav(tmp_path / "in.wav"))
    tmp, _ = pedalboard_output(tmp_path, ".flac")
    carry_tags(source, tmp, tmp_path / "out.flac")
    assert list(FLAC(tmp).tags) == INFO_COMMENTS
    assert tag_warnings(caplog) == []

    tmp = as_rf64(pedalboard_output(tmp_path, ".wav")[0])
    before = tmp.read_bytes()
    carry_tags(source, tmp, tmp_path / "out.wav")
    assert tmp.read_bytes() == before
    warnings = tag_warnings(caplog)
    assert len(warnings) == 1 and str(source) in warnings[0] and "RF64" in warnings[0]


def test_a_wav_whose_data_size_is_a_placeholder_gives_the_info_chunk_before_it_and_no_warning(tmp_path, caplog):
    source = write(tmp_path / "in.wav", channels=2)
    with_chunks(source, before_data=info_list(INFO))
    data = bytearray(source.read_bytes())
    at = data.index(b"data")
    data[at + 4 : at + 8] = (0x7FFFF000).to_bytes(4, "little")  # a streaming writer's "not known"
    source.write_bytes(bytes(data))
    tmp, _ = pedalboard_output(tmp_path, ".flac")
    carry_tags(source, tmp, tmp_path / "out.flac")
    assert list(FLAC(tmp).tags) == INFO_COMMENTS
    assert tag_warnings(caplog) == []


def test_a_broken_id3_chunk_leaves_the_info_chunk_to_be_read(tmp_path, caplog):
    source = tagged_wav(tmp_path / "in.wav", id3=chunk(b"id3 ", b"ID3\x09" + bytes(6)))
    tmp, _ = pedalboard_output(tmp_path, ".flac")
    carry_tags(source, tmp, tmp_path / "out.flac")
    assert list(FLAC(tmp).tags) == INFO_COMMENTS
    warnings = tag_warnings(caplog)
    assert len(warnings) == 1 and str(source) in warnings[0] and "ID3" in warnings[0]


def test_a_wav_output_is_not_grown_past_the_riff_limit(tmp_path, caplog, monkeypatch):
    import sagasr_stream.tags.riff as riff

    source = tagged_flac(tmp_path / "in.flac")
    tmp, before = pedalboard_output(tmp_path, ".wav")
    monkeypatch.setattr(riff, "MAX_RIFF", len(before) + 100)
    carry_tags(source, tmp, tmp_path / "out.wav")
    assert tmp.read_bytes() == before
    warnings = tag_warnings(caplog)
    assert len(warnings) == 1 and str(source) in warnings[0] and "4 GiB" in warnings[0]


@pytest.mark.parametrize("kind, suffix", [("ogg", ".ogg"), ("ogg", ".mp3"), ("wav", ".wav"), ("flac", ".aiff"),
                                          ("wav", ".aif")])
def test_the_same_input_and_output_give_the_same_tagged_bytes(tmp_path, kind, suffix):
    made = {"ogg": lambda: tagged_ogg(tmp_path / "in.ogg"), "wav": lambda: tagged_wav(tmp_path / "in.wav", bext=BEXT),
            "flac": lambda: tagged_flac(tmp_path / "in.flac")}
    source = made[kind]()
    tmp, before = pedalboard_output(tmp_path, suffix)
    carry_tags(source, tmp, tmp_path / f"out{suffix}")
    first = tmp.read_bytes()
    tmp.write_bytes(before)
    carry_tags(source, tmp, tmp_path / f"out{suffix}")
    assert tmp.read_bytes() == first != before
