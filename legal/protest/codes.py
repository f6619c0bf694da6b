"""The tables of FEBRABAN's "Layout Único – Versão 4.3" (protesto centralizado): species
(Anexo 1), occurrences (Anexo 2), the portador's declaration (Anexo 3) and irregularities
(Anexo 4), as the layout publishes them."""

from __future__ import annotations

# Anexo 1: the title's species (field 12 of the transaction record).
SPECIES = {
    "CBI": "Cédula de Crédito Bancário por Indicação", "CC": "Contrato de Câmbio",
    "CCB": "Cédula de Crédito Bancário", "CCC": "Cédula de Crédito Comercial",
    "CCE": "Cédula de Crédito à Exportação", "CCI": "Cédula de Crédito Industrial",
    "CCR": "Cédula de Crédito Rural", "CD": "Confissão de Dívida",
    "CDA": "Certidão da Dívida Ativa", "CH": "Cheque", "CHP": "Cédula Hipotecária",
    "CJV": "Conta Judicialmente Verificada", "CM": "Contrato de Mútuo",
    "CPH": "Cédula Rural Pignoratícia Hipotecária", "CPS": "Conta de Prestação de Serviços",
    "CRH": "Cédula Rural Hipotecária", "CRP": "Cédula Rural Pignoratícia",
    "CT": "Espécie de Contrato", "DM": "Duplicata de Venda Mercantil",
    "DMI": "Duplicata de Venda Mercantil por Indicação", "DR": "Duplicata Rural",
    "DRI": "Duplicata Rural por Indicação", "DS": "Duplicata de Prestação de Serviços",
    "DSI": "Duplicata de Prestação de Serviços por Indicação", "DV": "Diversos",
    "EC": "Encargos Condominiais", "LC": "Letra de Câmbio",
    "NCC": "Nota de Crédito Comercial", "NCE": "Nota de Crédito à Exportação",
    "NCI": "Nota de Crédito Industrial", "NCR": "Nota de Crédito Rural",
    "NP": "Nota Promissória", "NPR": "Nota Promissória Rural", "RA": "Recibo de Aluguel",
    "SJ": "Sentença Judicial", "TA": "Termo de Acordo", "TM": "Triplicata de Venda Mercantil",
    "TS": "Triplicata de Prestação de Serviços", "W": "Warrant",
}
# Counted apart in the header ("quantidade de indicações", field 11).
INDICATIONS = frozenset({"DMI", "DRI", "CBI"})

# Anexo 2: field 33 of the confirmação and retorno.
OCCURRENCES = {
    "1": "pago", "2": "protestado", "3": "retirado", "4": "sustado",
    "5": "devolvido pelo cartório por irregularidade (sem custas)",
    "6": "devolvido pelo cartório por irregularidade (com custas)",
    "7": "liquidação em condicional (cheque do devedor)", "8": "título aceito",
    "9": "edital", "A": "protesto cancelado", "B": "protesto já efetuado",
    "C": "protesto por edital", "D": "retirada por edital",
    "E": "protesto de terceiro cancelado", "F": "desistência do protesto por liquidação bancária",
    "G": "sustado definitivo", "I": "emissão da 2ª via do instrumento de protesto",
    "J": "cancelamento já efetuado anteriormente", "X": "cancelamento não efetuado",
}

# Anexo 3: where a DMI or DSI by indication with endorsement "mandato" carries the
# portador's declaration "D" (field 36); a CBI carries "C" in every state.
DECLARATION_D_STATES = {
    "DMI": frozenset({"SP", "DF", "RO", "SC", "RJ", "MS", "GO", "ES"}),
    "DSI": frozenset({"DF", "GO", "ES"}),
}

# Anexo 4: field 38 (and up to four more in field 47) of the confirmação and retorno.
IRREGULARITIES = {
    "01": "Data da apresentação inferior à data de vencimento",
    "02": "Falta de comprovante da prestação de serviço",
    "03": "Nome do sacado incompleto/incorreto",
    "04": "Nome do cedente incompleto/incorreto",
    "05": "Nome do sacador incompleto/incorreto",
    "06": "Endereço do sacado insuficiente",
    "07": "CNPJ/CPF do sacado inválido/incorreto",
    "08": "CNPJ/CPF incompatível c/ o nome do sacado/sacador/avalista",
    "09": "CNPJ/CPF do sacado incompatível com o tipo de documento",
    "10": "CNPJ/CPF do sacador incompatível com a espécie",
    "11": "Título aceito sem a assinatura do sacado",
    "12": "Título aceito rasurado ou rasgado",
    "13": "Título aceito – falta título (ag ced: enviar)",
    "14": "CEP incorreto",
    "15": "Praça de pagamento incompatível com endereço",
    "16": "Falta número do título",
    "17": "Título sem endosso do cedente ou irregular",
    "18": "Falta data de emissão do título",
    "19": "Título aceito: valor por extenso diferente do valor por numérico",
    "20": "Data de emissão posterior ao vencimento",
    "21": "Espécie inválida para protesto",
    "22": "CEP do sacado incompatível com a praça de protesto",
    "23": "Falta espécie do título",
    "24": "Saldo maior que o valor do título",
    "25": "Tipo de endosso inválido",
    "26": "Devolvido por ordem judicial",
    "27": "Dados do título não conferem com disquete",
    "28": "Sacado e Sacador/Avalista são a mesma pessoa",
    "29": "Corrigir a espécie do título",
    "30": "Aguardar um dia útil após o vencimento para protestar",
    "31": "Data do vencimento rasurada",
    "32": "Vencimento – extenso não confere com número",
    "33": "Falta data de vencimento no título",
    "34": "DM/DMI sem comprovante autenticado ou declaração",
    "35": "Comprovante ilegível para conferência e microfilmagem",
    "36": "Nome solicitado não confere com emitente ou sacado",
    "37": "Confirmar se são 2 emitentes. Se sim, indicar os dados dos 2",
    "38": "Endereço do sacado igual ao do sacador ou do portador",
    "39": "Endereço do apresentante incompleto ou não informado",
    "40": "Rua / Número inexistente no endereço",
    "41": "Informar a qualidade do endosso (M ou T)",
    "42": "Falta endosso do favorecido para o apresentante",
    "43": "Data da emissão rasurada",
    "44": "Protesto de cheque proibido – motivo 20/25/28/30 ou 35",
    "45": "Falta assinatura do emitente no cheque",
    "46": "Endereço do emitente no cheque igual ao do banco sacado",
    "47": "Falta o motivo da devolução no cheque ou motivo ilegível",
    "48": "Falta assinatura do sacador no título",
    "49": "Nome do apresentante não informado/incompleto/incorreto",
    "50": "Erro de preenchimento do título",
    "51": "Título com direito de regresso vencido",
    "52": "Título apresentado em duplicidade",
    "53": "Título já protestado",
    "54": "Letra de Câmbio vencida – falta aceite do sacado",
    "55": "Título – falta tradução por tradutor público",
    "56": "Falta declaração de saldo assinada no título",
    "57": "Contrato de Câmbio – falta conta gráfica",
    "58": "Ausência do Documento Físico",
    "59": "Sacado Falecido",
    "60": "Sacado Apresentou Quitação do Título",
    "61": "Título de outra jurisdição territorial",
    "62": "Título com emissão anterior à concordata do sacado",
    "63": "Sacado consta na lista de falência",
    "64": "Apresentante não aceita publicação de edital",
    "65": "Dados do sacador em branco ou inválido",
    "66": "Titulo sem autorização para protesto por edital",
    "67": "Valor divergente entre título e comprovante",
    "68": "Condomínio não pode ser protestado para fins falimentares",
    "69": "Vedada a intimação por edital para protesto falimentar",
    "70": "Dados do Cedente em branco ou inválido",
}
