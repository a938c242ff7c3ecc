"""Names that sinabs's specksim module imports; they simulate nothing."""


class SpecksimConvolutionalFilterNode:
    pass


class SpecksimIAFFilterNode:
    pass


class SpecksimSumPoolingFilterNode:
    pass
