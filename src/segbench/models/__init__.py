from segbench.models.decoder import Decoder, DecoderStage
from segbench.models.encoder import BasicEncoder, EncoderLevel
from segbench.models.segmenter import Segmenter, count_parameters

__all__ = ["BasicEncoder", "Decoder", "DecoderStage", "EncoderLevel", "Segmenter", "count_parameters"]
