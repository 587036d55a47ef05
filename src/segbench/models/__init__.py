from segbench.models.decoder import Decoder, DecoderStage
from segbench.models.densecrf import DenseCRF
from segbench.models.encoder import BasicEncoder, EncoderLevel
from segbench.models.fully_connected import FullyConnectedAsConv
from segbench.models.segmenter import Segmenter, count_parameters
from segbench.models.vgg import PretrainedWeightsError, VGG16Encoder

__all__ = [
    "BasicEncoder",
    "Decoder",
    "DecoderStage",
    "DenseCRF",
    "EncoderLevel",
    "FullyConnectedAsConv",
    "PretrainedWeightsError",
    "Segmenter",
    "VGG16Encoder",
    "count_parameters",
]
